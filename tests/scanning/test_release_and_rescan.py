"""Releasing flagged files (tenant admins), rescans (owners, operators, beat)."""

import os
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role
from registry.models import ArtifactFile, ScanStatus
from scanning import services
from scanning.models import ScanRelease, ScanReport, ScanTrigger, Verdict
from scanning.scanners import SCANNER_VERSION, Finding, ScanResult, Severity
from scanning.tasks import requeue_stale_scans_task, rescan_outdated_files_task
from tests.conftest import graphql_client_for
from tests.factories import (
    MembershipFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    TenantFactory,
    UserFactory,
    artifact_file,
)
from tests.scanning import corpus
from tests.scanning.conftest import SERVED, download_status, global_id

pytestmark = pytest.mark.django_db

RELEASE = """
mutation($fileId: ID!, $reason: String!) {
  releaseFile(fileId: $fileId, reason: $reason) {
    ... on ArtifactFile { id scanStatus }
    ... on OperationInfo { messages { code field message } }
  }
}
"""

RESCAN = """
mutation($fileId: ID, $versionId: ID) {
  rescan(fileId: $fileId, versionId: $versionId) {
    ... on RescanQueued { files { path } }
    ... on OperationInfo { messages { code field message } }
  }
}
"""

MALICIOUS = corpus.reduce_pickle(os.system, "echo pwned", protocol=2)


@pytest.fixture
def flagged(upload) -> ArtifactFile:
    artifact = upload(MALICIOUS, "model.pkl")
    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.FLAGGED
    return artifact


def _state(artifact: ArtifactFile) -> tuple:
    artifact.refresh_from_db()
    return (artifact.scan_status, artifact.released_by_id, artifact.release_reason,
            ScanRelease.objects.filter(file=artifact).count())


def test_tenant_admin_releases_a_flagged_file_and_it_is_recorded(flagged, tenant_admin,
                                                                 maintainer):
    result = graphql_client_for(tenant_admin)(
        RELEASE, {"fileId": global_id(flagged), "reason": " False positive: our own loader. "}
    )

    assert result.data["releaseFile"] == {"id": global_id(flagged), "scanStatus": "RELEASED"}
    release = ScanRelease.objects.get(file=flagged)
    assert (release.released_by, release.reason, release.report) == (
        tenant_admin, "False positive: our own loader.", flagged.scan_reports.get()
    )
    assert _state(flagged) == (ScanStatus.RELEASED, tenant_admin.pk,
                               "False positive: our own loader.", 1)
    assert download_status(maintainer, flagged) == SERVED


def test_the_owner_may_not_release_and_nothing_changes(flagged, maintainer):
    result = graphql_client_for(maintainer)(
        RELEASE, {"fileId": global_id(flagged), "reason": "trust me"}
    )

    assert result.data["releaseFile"]["messages"] == [{
        "code": "permission_denied", "field": None,
        "message": "Only tenant admins may release flagged files.",
    }]
    assert _state(flagged) == (ScanStatus.FLAGGED, None, "", 0)
    assert download_status(maintainer, flagged) == 404


@pytest.mark.parametrize(("reason", "message"), [
    ("   ", "Give a reason of 1 to 2000 characters."),
    ("x" * 2001, "Give a reason of 1 to 2000 characters."),
])
def test_a_release_needs_a_reason(flagged, tenant_admin, reason, message):
    result = graphql_client_for(tenant_admin)(
        RELEASE, {"fileId": global_id(flagged), "reason": reason}
    )

    assert result.data["releaseFile"]["messages"] == [
        {"code": "invalid_reason", "field": "reason", "message": message}
    ]
    assert _state(flagged) == (ScanStatus.FLAGGED, None, "", 0)


@pytest.mark.parametrize("status", [ScanStatus.CLEAN, ScanStatus.ERROR, ScanStatus.PENDING,
                                    ScanStatus.RELEASED])
def test_only_flagged_files_can_be_released(version, tenant_admin, status):
    artifact = artifact_file(version, scan_status=status)

    result = graphql_client_for(tenant_admin)(
        RELEASE, {"fileId": global_id(artifact), "reason": "ok"}
    )

    assert result.data["releaseFile"]["messages"] == [{
        "code": "not_flagged", "field": "fileId",
        "message": f"The file's scan status is {status}, not flagged.",
    }]
    assert ScanRelease.objects.count() == 0


def test_a_flagged_file_without_a_finished_scan_is_not_released(version, tenant_admin):
    """A status set without a scan (an older console, a repaired row): no findings to accept,
    so the file stays quarantined with a coded answer."""
    artifact = artifact_file(version, scan_status=ScanStatus.FLAGGED)
    ScanReport.objects.create(file=artifact, trigger=ScanTrigger.UPLOAD, scanner_version="1",
                              started_at=timezone.now())  # unfinished

    result = graphql_client_for(tenant_admin)(
        RELEASE, {"fileId": global_id(artifact), "reason": "reviewed"}
    )

    assert result.data["releaseFile"]["messages"] == [{
        "code": "no_scan_report", "field": "fileId",
        "message": "The file has no finished scan to release; rescan it first.",
    }]
    assert _state(artifact) == (ScanStatus.FLAGGED, None, "", 0)


def test_another_tenants_admin_cannot_find_the_file(flagged):
    other_admin, other_tenant = UserFactory(), TenantFactory()
    MembershipFactory(user=other_admin, tenant=other_tenant, role=Role.ADMIN)

    result = graphql_client_for(other_admin)(
        RELEASE, {"fileId": global_id(flagged), "reason": "mine now"},
        **{"X-Registry-Tenant": other_tenant.slug},
    )

    assert result.data["releaseFile"]["messages"] == [
        {"code": "not_found", "field": "fileId", "message": "Not found."}
    ]
    assert _state(flagged) == (ScanStatus.FLAGGED, None, "", 0)


def _release(artifact, admin) -> None:
    graphql_client_for(admin)(RELEASE, {"fileId": global_id(artifact), "reason": "accepted"})


def _rescan(artifact, user) -> dict:
    return graphql_client_for(user)(RESCAN, {"fileId": global_id(artifact)}).data["rescan"]


def test_a_release_survives_rescans_that_find_nothing_new(flagged, tenant_admin, maintainer,
                                                          django_capture_on_commit_callbacks):
    _release(flagged, tenant_admin)

    with django_capture_on_commit_callbacks(execute=True):
        _rescan(flagged, maintainer)

    assert _state(flagged) == (ScanStatus.RELEASED, tenant_admin.pk, "accepted", 1)
    assert flagged.scan_reports.count() == 2


def test_a_rescan_that_finds_something_new_quarantines_again(
    flagged, tenant_admin, maintainer, monkeypatch, django_capture_on_commit_callbacks
):
    _release(flagged, tenant_admin)
    released = flagged.scan_reports.get()
    old_findings = [Finding(Severity(f.severity), f.code, f.message, f.location)
                    for f in released.findings.all()]
    new_finding = Finding(Severity.CRITICAL, "pickle.unsafe_global", "builtins.exec", "model.pkl")
    monkeypatch.setattr(services, "scan_stream", lambda stream, *, name, **options: ScanResult(
        scanner="pickle", scanner_version=SCANNER_VERSION, verdict="flagged",
        findings=[*old_findings, new_finding], detected_format="pickle",
    ))

    with django_capture_on_commit_callbacks(execute=True):
        _rescan(flagged, maintainer)

    assert _state(flagged) == (ScanStatus.FLAGGED, None, "", 1)
    assert download_status(maintainer, flagged) == 404


def test_a_clean_file_whose_rescan_fails_is_quarantined(upload, maintainer, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    artifact = upload(corpus.TEXT, "README.md")

    def crash(stream, *, name, pickle_allowlist):
        raise MemoryError

    monkeypatch.setattr(services, "scan_stream", crash)
    with django_capture_on_commit_callbacks(execute=True):
        _rescan(artifact, maintainer)

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.ERROR
    assert download_status(maintainer, artifact) == 404


def test_owner_rescans_a_file(upload, maintainer, django_capture_on_commit_callbacks):
    artifact = upload(corpus.TEXT, "README.md")

    with django_capture_on_commit_callbacks(execute=True):
        payload = _rescan(artifact, maintainer)

    assert payload == {"files": [{"path": "README.md"}]}
    assert list(artifact.scan_reports.values_list("trigger", "verdict")) == [
        (ScanTrigger.RESCAN, Verdict.CLEAN), (ScanTrigger.UPLOAD, Verdict.CLEAN)
    ]


def test_tenant_admin_rescans_a_version(upload, version, tenant_admin,
                                        django_capture_on_commit_callbacks):
    first = upload(corpus.TEXT, "README.md")
    second = upload(MALICIOUS, "model.pkl")

    with django_capture_on_commit_callbacks(execute=True):
        result = graphql_client_for(tenant_admin)(RESCAN, {"versionId": global_id(version)})

    assert result.data["rescan"] == {"files": [{"path": "README.md"}, {"path": "model.pkl"}]}
    assert ScanReport.objects.filter(trigger=ScanTrigger.RESCAN).count() == 2
    assert {first.scan_reports.count(), second.scan_reports.count()} == {2}


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.VIEWER])
def test_members_who_do_not_own_the_model_cannot_rescan(default_tenant, member_factory,
                                                       django_capture_on_commit_callbacks,
                                                       role):
    public = RegisteredModelFactory(tenant=default_tenant, visibility="public")
    artifact = artifact_file(ModelVersionFactory(model=public))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        payload = _rescan(artifact, member_factory(role))

    assert payload == {"messages": [{"code": "not_found", "field": "fileId",
                                     "message": "Not found."}]}
    assert callbacks == []
    assert ScanReport.objects.count() == 0


@pytest.mark.parametrize("both", [False, True])
def test_rescan_needs_exactly_one_target(upload, version, maintainer, both):
    artifact = upload(corpus.TEXT, "README.md")
    variables = {"fileId": global_id(artifact), "versionId": global_id(version)} if both else {}

    result = graphql_client_for(maintainer)(RESCAN, variables)

    assert result.data["rescan"] == {"messages": [{
        "code": "invalid_rescan_target", "field": None,
        "message": "Give exactly one of fileId and versionId.",
    }]}


def test_files_scanned_by_an_older_scanner_are_rescanned_by_beat(
    upload, django_capture_on_commit_callbacks
):
    outdated = upload(corpus.TEXT, "README.md")
    current = upload(corpus.TEXT, "docs/README.md")
    ArtifactFile.objects.filter(pk=outdated.pk).update(scanner_version="0.0.1")

    with django_capture_on_commit_callbacks(execute=True):
        queued = rescan_outdated_files_task.delay().get()

    outdated.refresh_from_db()
    assert queued == 1
    assert outdated.scanner_version == SCANNER_VERSION
    assert outdated.scan_reports.first().trigger == ScanTrigger.OUTDATED
    assert current.scan_reports.count() == 1


def test_the_outdated_rescan_goes_a_batch_at_a_time(version, settings,
                                                    django_capture_on_commit_callbacks):
    settings.SCAN_RESCAN_BATCH_SIZE = 2
    files = [artifact_file(version, path=f"f{i}") for i in range(3)]  # scanner_version ""

    with django_capture_on_commit_callbacks(execute=True):
        first_run = rescan_outdated_files_task.delay().get()
    counts = [f.scan_reports.count() for f in files]
    with django_capture_on_commit_callbacks(execute=True):
        second_run = rescan_outdated_files_task.delay().get()

    assert (first_run, counts, second_run) == (2, [1, 1, 0], 1)


def test_pending_files_whose_message_was_lost_are_queued_again(
    upload, settings, django_capture_on_commit_callbacks
):
    lost = upload(corpus.TEXT, "README.md", scan=False)
    fresh = upload(corpus.TEXT, "new.md", scan=False)
    an_hour_ago = timezone.now() - timedelta(seconds=settings.SCAN_STALE_AFTER_SECONDS + 60)
    ArtifactFile.objects.filter(pk=lost.pk).update(created_at=an_hour_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_scans_task.delay().get() == 1

    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.scan_status, lost.scan_reports.get().trigger) == (ScanStatus.CLEAN,
                                                                   ScanTrigger.STALE)
    assert fresh.scan_status == ScanStatus.PENDING


def test_rescan_command(version, capsys, django_capture_on_commit_callbacks):
    other_tenant_file = artifact_file(ModelVersionFactory(model__tenant=TenantFactory()))
    mine = artifact_file(version, path="a")
    artifact_file(version, path="b")
    ArtifactFile.objects.update(scanner_version=SCANNER_VERSION)
    ArtifactFile.objects.filter(pk=mine.pk).update(scanner_version="0.0.1")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rescan", "--outdated")
        call_command("rescan", "--tenant", version.model.tenant.slug)
        call_command("rescan")

    assert capsys.readouterr().out == ("Queued 1 file(s) for scanning.\n"
                                       "Queued 2 file(s) for scanning.\n"
                                       "Queued 3 file(s) for scanning.\n")
    assert mine.scan_reports.count() == 3
    assert other_tenant_file.scan_reports.count() == 1


def test_rescan_command_refuses_an_unknown_tenant():
    with pytest.raises(CommandError, match="No tenant 'nope'."):
        call_command("rescan", "--tenant", "nope")
