"""Every new file is quarantined until scanned; the scan decides, and fails closed."""

import os

import numpy as np
import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from registry import services as registry_services
from registry.models import ScanStatus
from registry.storage import blobs
from scanning import services
from scanning.models import ScanReport, ScanTrigger, Verdict
from scanning.scanners import SCANNER_VERSION, Finding, ScanResult, Severity
from scanning.tasks import scan_artifact_task
from tests.scanning import corpus
from tests.scanning.conftest import SERVED, download_status

pytestmark = pytest.mark.django_db

BENIGN = {
    "model.safetensors": corpus.safetensors_file,
    "weights.npy": lambda: corpus.npy(np.arange(12, dtype=np.float32)),
    "checkpoint.pt": corpus.benign_checkpoint,
    "model.onnx": corpus.onnx_model,
    "README.md": lambda: corpus.TEXT,
    "preview.png": lambda: corpus.PNG_HEADER,
    "model.gguf": lambda: corpus.gguf_model(corpus.CLEAN_CHAT_TEMPLATE),
    "model.keras": lambda: corpus.keras3_archive(corpus.keras3_dense_config()),
    "scripted.pt": corpus.torchscript_archive,
    "model.joblib": lambda: corpus.joblib_file({"coef": np.ones((2, 3))}),
}

MALICIOUS = {
    **{f"os.system, protocol {p}": ("model.pkl", lambda p=p: corpus.reduce_pickle(
        os.system, "echo pwned", protocol=p)) for p in (0, 2, 4, 5)},
    "eval": ("model.pkl", lambda: corpus.reduce_pickle(eval, "1", protocol=4)),
    "runpy gadget": ("model.pkl", lambda: corpus.call_pickle(
        *corpus.LESSER_KNOWN_GADGETS["runpy._run_code"])),
    "STACK_GLOBAL through the memo": ("model.pkl", corpus.memo_obfuscated_pickle),
    "stacked pickles": ("model.pkl", corpus.stacked_pickles),
    "PyTorch checkpoint": ("checkpoint.pt", corpus.malicious_checkpoint),
    "pickle named .safetensors": ("model.safetensors", lambda: corpus.reduce_pickle(
        os.system, "echo pwned", protocol=2)),
    "NumPy object array": ("weights.npy", lambda: corpus.npy(corpus.malicious_object_array())),
    "Keras Lambda layer": ("model.keras", lambda: corpus.keras_v3(with_lambda=True)),
    "ONNX external data outside the model": ("model.onnx", lambda: corpus.onnx_model(
        external_location="../../etc/passwd")),
    "zip slip": ("data.zip", lambda: corpus.build_zip([corpus.Member("../evil.sh", b"id")])),
    "tar symlink escape": ("data.tar", corpus.symlink_escape_tar),
    "payload then a broken stream": ("model.pkl", lambda: corpus.call_pickle(
        "os", "system", "id")[:-1] + b"\xff"),
    "pickle behind an image header": ("cat.png", lambda: corpus.PNG_HEADER + corpus.call_pickle(
        "os", "system", "id")),
    "GGUF template injection": ("model.gguf", lambda: corpus.gguf_model(
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}")),
}


@pytest.mark.parametrize(("allowlist", "status"), [("", ScanStatus.FLAGGED),
                                                   ("sklearn", ScanStatus.CLEAN)])
def test_the_tenant_opts_in_to_the_sklearn_allowlist(upload, default_tenant, allowlist, status):
    default_tenant.scan_pickle_allowlist = allowlist
    default_tenant.save()

    artifact = upload(corpus.sklearn_model_pickle(), "model.pkl")

    artifact.refresh_from_db()
    assert artifact.scan_status == status
    assert [f.code for f in artifact.scan_reports.get().findings.all()] == (
        ["pickle.unknown_global"] if allowlist == "" else [])


def test_new_file_stays_pending_and_quarantined_until_its_scan_runs(upload, maintainer):
    artifact = upload(corpus.TEXT, "README.md", scan=False)

    assert artifact.scan_status == ScanStatus.PENDING
    assert ScanReport.objects.filter(file=artifact).count() == 0
    assert download_status(maintainer, artifact) == 404

    scan_artifact_task.delay(artifact.pk)
    artifact.refresh_from_db()

    assert artifact.scan_status == ScanStatus.CLEAN
    assert download_status(maintainer, artifact) == SERVED


@pytest.mark.parametrize("path", BENIGN)
def test_benign_files_become_clean_and_downloadable(upload, maintainer, path):
    artifact = upload(BENIGN[path](), path)

    artifact.refresh_from_db()
    report = artifact.scan_reports.get()
    assert artifact.scan_status == ScanStatus.CLEAN
    assert artifact.scanner_version == SCANNER_VERSION
    assert (report.verdict, report.trigger, report.error) == (Verdict.CLEAN, ScanTrigger.UPLOAD,
                                                              "")
    assert report.finished_at is not None
    assert report.worker == f"{os.uname().nodename}:{os.getpid()}"  # eager: this process
    assert download_status(maintainer, artifact) == SERVED


@pytest.mark.parametrize("sample", MALICIOUS)
def test_malicious_files_are_flagged_and_not_downloadable(upload, maintainer, sample):
    path, make = MALICIOUS[sample]
    content = make()

    artifact = upload(content, path)

    artifact.refresh_from_db()
    report = artifact.scan_reports.get()
    expected = corpus.scan_bytes(content, path)
    assert artifact.scan_status == ScanStatus.FLAGGED
    assert report.verdict == Verdict.FLAGGED
    assert [(f.severity, f.code, f.location) for f in report.findings.all()] == [
        (f.severity, f.code, f.location) for f in expected.findings
    ]
    assert download_status(maintainer, artifact) == 404


def test_flagged_file_is_downloadable_where_the_tenant_policy_is_warn(upload, maintainer,
                                                                      default_tenant):
    default_tenant.scan_policy = "warn"
    default_tenant.save()

    artifact = upload(corpus.reduce_pickle(os.system, "id", protocol=2), "model.pkl")

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.FLAGGED
    assert download_status(maintainer, artifact) == SERVED


def test_a_flagged_file_not_read_to_the_end_stays_quarantined_under_warn(upload, maintainer,
                                                                        default_tenant):
    default_tenant.scan_policy = "warn"
    default_tenant.save()

    artifact = upload(corpus.call_pickle("os", "system", "id")[:-1] + b"\xff", "model.pkl")

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.FLAGGED
    assert artifact.scan_reports.get().error != ""
    assert download_status(maintainer, artifact) == 404


@pytest.mark.parametrize("policy", ["block", "warn"])
@pytest.mark.parametrize(("raised", "error"), [
    (RuntimeError("boom"), "The scanner failed (RuntimeError)."),
    (SoftTimeLimitExceeded(), "The scan exceeded its time limit of {limit} s."),
])
def test_scanner_crash_or_timeout_leaves_the_file_quarantined_as_error(
    upload, maintainer, default_tenant, monkeypatch, settings, policy, raised, error
):
    error = error.format(limit=settings.SCAN_TIME_LIMIT_SECONDS)
    default_tenant.scan_policy = policy
    default_tenant.save()

    def fail(stream, *, name, pickle_allowlist):
        raise raised

    monkeypatch.setattr(services, "scan_stream", fail)

    artifact = upload(corpus.TEXT, "README.md")

    artifact.refresh_from_db()
    report = artifact.scan_reports.get()
    assert artifact.scan_status == ScanStatus.ERROR
    assert (report.verdict, report.error, report.scanner_version) == (Verdict.ERROR, error,
                                                                      SCANNER_VERSION)
    assert report.finished_at is not None
    assert download_status(maintainer, artifact) == 404


def test_scanner_error_verdict_is_not_downloadable_even_under_warn(upload, maintainer,
                                                                     default_tenant):
    default_tenant.scan_policy = "warn"
    default_tenant.save()

    artifact = upload(corpus.truncated_pickle(), "model.pkl")

    artifact.refresh_from_db()
    assert artifact.scan_reports.get().verdict == Verdict.ERROR
    assert artifact.scan_status == ScanStatus.ERROR
    assert download_status(maintainer, artifact) == 404


def test_hard_time_limit_finishes_the_interrupted_report_as_an_error(upload):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    running = ScanReport.objects.create(file=artifact, trigger=ScanTrigger.UPLOAD,
                                        scanner_version=SCANNER_VERSION,
                                        started_at=timezone.now(), error=services.UNFINISHED)

    # What the worker's main process does when it kills a task at its hard time limit.
    scan_artifact_task.on_failure(TimeLimitExceeded(scan_artifact_task.time_limit), "task-id",
                                  (artifact.pk, "upload"), {}, None)

    artifact.refresh_from_db()
    running.refresh_from_db()
    assert artifact.scan_status == ScanStatus.ERROR
    assert artifact.scan_reports.count() == 1
    assert running.verdict == Verdict.ERROR
    assert running.error == (f"The scan exceeded its hard time limit of "
                             f"{scan_artifact_task.time_limit} s and its process was stopped.")
    assert running.finished_at is not None


def test_transient_storage_errors_are_retried(upload, monkeypatch):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    real_open, failures = blobs.blob_open, []

    def flaky_open(blob):
        if len(failures) < 2:
            failures.append(blob.pk)
            raise ConnectionError("storage is unreachable")
        return real_open(blob)

    monkeypatch.setattr(blobs, "blob_open", flaky_open)

    scan_artifact_task.delay(artifact.pk)

    artifact.refresh_from_db()
    assert failures == [artifact.blob_id, artifact.blob_id]
    assert artifact.scan_status == ScanStatus.CLEAN
    assert artifact.scan_reports.count() == 1  # failed attempts to read leave no report


def test_storage_errors_past_the_retries_end_as_an_error(upload, monkeypatch, maintainer):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    attempts = []

    def unreachable(blob):
        attempts.append(blob.pk)
        raise ConnectionError("storage is unreachable")

    monkeypatch.setattr(blobs, "blob_open", unreachable)

    scan_artifact_task.delay(artifact.pk)

    artifact.refresh_from_db()
    report = artifact.scan_reports.get()
    assert len(attempts) == scan_artifact_task.max_retries + 1
    assert artifact.scan_status == ScanStatus.ERROR
    assert report.error == ("The file's bytes could not be read from storage, after several "
                            "attempts.")
    assert download_status(maintainer, artifact) == 404


def test_missing_bytes_are_an_error(upload):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    default_storage.delete(artifact.blob.storage_key)

    scan_artifact_task.delay(artifact.pk)

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.ERROR
    assert artifact.scan_reports.get().error == "The file's bytes are missing from storage."


def test_stored_bytes_of_another_size_are_an_error(upload):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    default_storage.delete(artifact.blob.storage_key)
    default_storage.save(artifact.blob.storage_key, ContentFile(b"short"))

    scan_artifact_task.delay(artifact.pk)

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.ERROR
    assert artifact.scan_reports.get().error == (
        f"The stored bytes (5 B) do not match the file's recorded size ({len(corpus.TEXT)} B)."
    )


def _interrupted(artifact, count: int) -> list[ScanReport]:
    return [ScanReport.objects.create(file=artifact, trigger=ScanTrigger.UPLOAD,
                                      scanner_version=SCANNER_VERSION, error=services.UNFINISHED,
                                      started_at=timezone.now()) for _ in range(count)]


def test_a_file_that_keeps_killing_its_worker_ends_as_an_error(upload, settings):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    reports = _interrupted(artifact, settings.SCAN_MAX_ATTEMPTS)

    scan_artifact_task.delay(artifact.pk)  # the redelivered message, once more

    artifact.refresh_from_db()
    latest = ScanReport.objects.get(pk=reports[-1].pk)
    assert artifact.scan_status == ScanStatus.ERROR
    assert artifact.scan_reports.count() == settings.SCAN_MAX_ATTEMPTS  # not scanned again
    assert latest.error == ("The scan was interrupted 3 times in a row (its worker crashed or "
                            "was killed); the file stays quarantined.")
    assert artifact.scan_reports.filter(finished_at__isnull=True).count() == 2


def test_an_interrupted_scan_is_retried_and_stays_on_record(upload, settings):
    artifact = upload(corpus.TEXT, "README.md", scan=False)
    _interrupted(artifact, settings.SCAN_MAX_ATTEMPTS - 1)

    scan_artifact_task.delay(artifact.pk)

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.CLEAN
    assert list(artifact.scan_reports.values_list("verdict", "error")) == [
        (Verdict.CLEAN, ""), (Verdict.ERROR, services.UNFINISHED),
        (Verdict.ERROR, services.UNFINISHED),
    ]


def test_a_redelivered_scan_of_a_scanned_file_changes_nothing(upload):
    artifact = upload(corpus.TEXT, "README.md")

    scan_artifact_task.delay(artifact.pk)
    scan_artifact_task.delay(artifact.pk, ScanTrigger.STALE)

    assert artifact.scan_reports.count() == 1


def test_a_scan_of_a_deleted_file_is_a_no_op():
    assert services.scan_file(file_id=2**40) is None


def test_an_upload_rolled_back_queues_no_scan(maintainer, version, default_tenant,
                                              django_capture_on_commit_callbacks):
    actor = Actor(user=maintainer, tenant=default_tenant, role="maintainer")
    with (django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        registry_services.file_add(actor=actor, version=version, path="a.bin",
                                   stream=ContentFile(b"abc"), declared_size=3)
        raise RuntimeError("the request failed later")

    assert callbacks == []


def test_findings_are_stored_safely_and_capped(upload, monkeypatch):
    hostile = "../\x00evil\udcff" + "x" * 5000
    findings = [Finding(Severity.HIGH, "archive.path_traversal", "escapes", hostile)] * 501

    monkeypatch.setattr(services, "scan_stream", lambda stream, *, name, **options: ScanResult(
        scanner="zip", scanner_version=SCANNER_VERSION, verdict="flagged", findings=findings,
        detected_format="zip",
    ))

    artifact = upload(b"PK\x05\x06" + bytes(18), "data.zip")

    stored = list(artifact.scan_reports.get().findings.all())
    assert len(stored) == 501
    assert stored[0].location == ("../\\x00evil\\udcff" + "x" * 1082 + "…")
    assert len(stored[0].location) == 1100
    assert (stored[-1].severity, stored[-1].code, stored[-1].message) == (
        "info", "report.truncated", "1 more findings were not stored."
    )
