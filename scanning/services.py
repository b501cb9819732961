"""Scanning writes: scan a file and record the report, release flagged files, queue rescans.

A file's status follows its latest scan and fails closed: an error, a crash or a time limit
leaves it quarantined (ERROR or still PENDING), never clean.
"""

import io
import logging
import os
import socket
import time
from collections.abc import Iterable
from datetime import timedelta

from botocore.exceptions import BotoCoreError
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import (
    CodedPermissionDenied,
    CodedValidationError,
    not_found,
    require_scope,
)
from accounts.models import Tenant
from audit import services as audit
from config import metrics
from registry import selectors as registry_selectors
from registry.catalog import kind_of
from registry.models import ArtifactFile, ScanStatus, Version
from registry.storage import blobs
from scanning import selectors
from scanning.errors import ScanningErrorCode as Code
from scanning.models import ScanFinding, ScanRelease, ScanReport, ScanTrigger, Verdict
from scanning.scanners import SCANNER_VERSION, ScanResult, scan_stream
from webhooks import events as webhook_events

logger = logging.getLogger(__name__)

UNFINISHED = "The scan has not finished: it is running, or its worker stopped before the end."
INCOMPLETE = "Part of the file could not be read: see the findings."
# A hostile archive can yield a finding per entry; the report keeps the first ones.
MAX_STORED_FINDINGS = 500
MAX_REASON_LENGTH = 2000
READ_BUFFER_BYTES = 256 * 1024
STATUS_OF_VERDICT = {Verdict.CLEAN: ScanStatus.CLEAN, Verdict.FLAGGED: ScanStatus.FLAGGED,
                     Verdict.ERROR: ScanStatus.ERROR}


class StorageUnavailable(Exception):
    """The file's bytes could not be read, for a reason a later attempt may not meet."""


def scan_file(*, file_id: int, trigger: str = ScanTrigger.UPLOAD) -> ScanReport | None:
    """Scan the stored bytes of a file, record the report and set the file's status.

    Idempotent: unless a rescan was asked for, a file already scanned by this scanner
    version is left alone (a redelivered task). Not one transaction on purpose: the report
    is committed when the scan starts, so a worker that dies mid-scan leaves it on record;
    after SCAN_MAX_ATTEMPTS such interruptions in a row the file ends as an error.
    Raises StorageUnavailable for storage errors worth a retry (the file stays as it was).
    """
    artifact = ArtifactFile.objects.select_related("blob", "tenant").filter(pk=file_id).first()
    if artifact is None:
        return None  # deleted since the scan was queued
    if trigger != ScanTrigger.RESCAN and selectors.is_scanned_by_current_version(artifact):
        return None
    interrupted = selectors.interrupted_scans(artifact, settings.SCAN_MAX_ATTEMPTS)
    if len(interrupted) >= settings.SCAN_MAX_ATTEMPTS:
        return _finish(artifact, interrupted[0], failure=(
            f"The scan was interrupted {len(interrupted)} times in a row (its worker crashed "
            "or was killed); the file stays quarantined."
        ))
    stream, failure = _open_blob(artifact)
    report = ScanReport.objects.create(
        file=artifact, trigger=trigger, scanner_version=SCANNER_VERSION, error=UNFINISHED,
        worker=f"{socket.gethostname()}:{os.getpid()}", started_at=timezone.now(),
    )
    started = time.monotonic()
    result = None
    if stream is not None:
        with stream:
            result, failure = _run_scanner(stream, artifact)
    return _finish(artifact, report, result=result, failure=failure,
                   duration=time.monotonic() - started)


def _open_blob(artifact: ArtifactFile) -> tuple[io.IOBase | None, str]:
    """The file's bytes at position 0, or None and why they cannot be scanned.

    Errors reaching the storage are retried by the task; a read that fails later, mid-scan,
    is the scanner's to report (an error verdict).
    """
    try:
        stream = blobs.blob_open(artifact.blob)
    except FileNotFoundError:
        return None, "The file's bytes are missing from storage."
    except (OSError, BotoCoreError) as error:
        raise StorageUnavailable(f"{type(error).__name__}: {error}") from error
    if isinstance(stream, io.RawIOBase):
        # Scanners make many small reads around a file; unbuffered, each would be a request
        # to S3 (34 instead of 6 GETs for a small PyTorch checkpoint).
        stream = io.BufferedReader(stream, READ_BUFFER_BYTES)
    stored_size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if stored_size != artifact.size:
        stream.close()
        return None, (f"The stored bytes ({stored_size} B) do not match the file's recorded "
                      f"size ({artifact.size} B).")
    return stream, ""


def _run_scanner(stream: io.IOBase, artifact: ArtifactFile) -> tuple[ScanResult | None, str]:
    try:
        return scan_stream(stream, name=artifact.path,
                           pickle_allowlist=artifact.tenant.scan_pickle_allowlist), ""
    except SoftTimeLimitExceeded:
        return None, f"The scan exceeded its time limit of {settings.SCAN_TIME_LIMIT_SECONDS} s."
    except Exception as error:  # fail closed on anything the scanners did not handle
        logger.exception("The scanner failed on file %s", artifact.pk)
        return None, f"The scanner failed ({type(error).__name__})."


@transaction.atomic
def scan_record_failure(*, file_id: int, trigger: str, failure: str) -> ScanReport | None:
    """Record a scan that could not complete (hard time limit, storage retries exhausted).

    Completes the file's unfinished report when there is one, else records a new one.
    """
    artifact = ArtifactFile.objects.filter(pk=file_id).first()
    if artifact is None:
        return None
    interrupted = selectors.interrupted_scans(artifact, limit=1)
    report = interrupted[0] if interrupted else ScanReport(
        file=artifact, trigger=trigger, scanner_version=SCANNER_VERSION,
        started_at=timezone.now(),
    )
    return _finish(artifact, report, failure=failure)


@transaction.atomic
def _finish(artifact: ArtifactFile, report: ScanReport, *, result: ScanResult | None = None,
            failure: str = "", duration: float | None = None) -> ScanReport | None:
    artifact = ArtifactFile.objects.select_for_update().filter(pk=artifact.pk).first()
    if artifact is None:
        return None  # deleted during the scan, its reports with it
    report.finished_at = timezone.now()
    report.duration_seconds = duration
    findings = []
    if result is None:
        report.verdict, report.error = Verdict.ERROR, failure
    else:
        report.scanner = _text(result.scanner, 50)
        report.scanner_version = _text(result.scanner_version, 50)
        report.verdict = Verdict(result.verdict)
        report.detected_format = _text(result.detected_format, 100)
        # Kept on a FLAGGED report too: file_is_downloadable refuses `warn` for such a file.
        report.error = INCOMPLETE if result.incomplete else ""
    report.save()
    if result is not None:
        findings = ScanFinding.objects.bulk_create(_stored_findings(report, result))
    before = artifact.scan_status
    _apply_verdict(artifact, report, findings)
    webhook_events.file_scanned(artifact, report)
    audit.record(action="scan.verdict", obj=artifact, object_name=artifact.path,
                 system="scanner", changes={"scan_status": [before, artifact.scan_status],
                                            "verdict": [None, report.verdict]})
    transaction.on_commit(lambda: metrics.record_scan(report.verdict, duration))
    return report


def _stored_findings(report: ScanReport, result: ScanResult) -> list[ScanFinding]:
    kept = [ScanFinding(report=report, severity=finding.severity, code=_text(finding.code, 100),
                        message=_text(finding.message, 2000),
                        location=_text(finding.location, 1100))
            for finding in result.findings[:MAX_STORED_FINDINGS]]
    omitted = len(result.findings) - len(kept)
    if omitted > 0:
        kept.append(ScanFinding(report=report, severity="info", code="report.truncated",
                                message=f"{omitted} more findings were not stored.",
                                location=_text(report.file.path, 1100)))
    return kept


def _text(value: str, limit: int) -> str:
    """Scanner text made storable: names from hostile archives may hold NUL or lone
    surrogates, which PostgreSQL refuses, and may be arbitrarily long."""
    value = str(value).replace("\x00", "\\x00")
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _apply_verdict(artifact: ArtifactFile, report: ScanReport,
                   findings: list[ScanFinding]) -> None:
    """The latest scan sets the status; a release stands while it covers every finding."""
    status, release = STATUS_OF_VERDICT[report.verdict], None
    if status == ScanStatus.FLAGGED:
        candidate = selectors.latest_release(artifact)
        flagged = {(finding.code, finding.location) for finding in findings}
        if candidate is not None and flagged <= selectors.finding_keys(candidate.report):
            status, release = ScanStatus.RELEASED, candidate
    artifact.scanner_version = report.scanner_version
    _set_scan_status(artifact, status, release=release, also=("scanner_version",))


def _set_scan_status(artifact: ArtifactFile, status: str, *, release: ScanRelease | None,
                     also: tuple[str, ...] = ()) -> None:
    """The one writer of a file's scan status (the admin and the API only read it).
    released_by/release_reason describe the release in force, and only that."""
    artifact.scan_status = status
    artifact.released_by_id = release.released_by_id if release else None
    artifact.release_reason = release.reason if release else ""
    artifact.save(update_fields=["scan_status", "released_by", "release_reason", *also])


# --- Releases --------------------------------------------------------------------------------

@transaction.atomic
def file_release(*, actor: Actor, file_id: int, reason: str) -> ArtifactFile:
    """A tenant admin makes a flagged file downloadable; who, why and when are recorded."""
    require_scope(actor)
    if not actor.is_tenant_admin:
        raise CodedPermissionDenied("Only tenant admins may release flagged files.")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise CodedValidationError(
            {"reason": f"Give a reason of 1 to {MAX_REASON_LENGTH} characters."},
            code=Code.INVALID_REASON,
        )
    artifact = (registry_selectors.files_visible_to(actor).select_for_update(of=("self",))
                .filter(pk=file_id).first())
    if artifact is None:
        raise not_found("fileId")
    if artifact.scan_status != ScanStatus.FLAGGED:
        raise CodedValidationError(
            {"fileId": f"The file's scan status is {artifact.scan_status}, not flagged."},
            code=Code.NOT_FLAGGED,
        )
    report = selectors.latest_finished_report(artifact)
    if report is None:
        # A release accepts a report's findings; with none on record there is nothing to
        # accept (the status was set some other way): the file stays quarantined.
        raise CodedValidationError(
            {"fileId": "The file has no finished scan to release; rescan it first."},
            code=Code.NO_SCAN_REPORT,
        )
    release = ScanRelease.objects.create(file=artifact, report=report,
                                         released_by=actor.user, reason=reason)
    _set_scan_status(artifact, ScanStatus.RELEASED, release=release)
    webhook_events.file_released(artifact, release)
    audit.record(actor=actor, action="scan.release", obj=artifact, object_name=artifact.path,
                 changes={"scan_status": [ScanStatus.FLAGGED, ScanStatus.RELEASED],
                          "release_reason": [None, reason]})
    return artifact


# --- Queueing --------------------------------------------------------------------------------

def scans_queue(file_ids: Iterable[int], *, trigger: str) -> int:
    """Queue scans once the current transaction commits, so that workers find the rows.

    Robust: when the broker is down the files stay pending, and requeue_stale_scans_task
    queues them again later.
    """
    from scanning.tasks import scan_artifact_task  # the tasks module imports this one

    file_ids = list(file_ids)

    def send() -> None:
        for file_id in file_ids:
            scan_artifact_task.delay(file_id, trigger)

    if file_ids:
        transaction.on_commit(send, robust=True)
    return len(file_ids)


def _require_manager(actor: Actor, version: Version, field: str) -> None:
    """Owners, tenant admins and holders of `manage` may rescan; others see nothing."""
    if not registry_selectors.can_manage(actor, getattr(version, kind_of(version).parent_field)):
        raise not_found(field)


@transaction.atomic
def file_rescan(*, actor: Actor, file_id: int) -> ArtifactFile:
    require_scope(actor)
    artifact = (registry_selectors.files_visible_to(actor)
                .select_related("model_version__model", "dataset_version__dataset")
                .filter(pk=file_id).first())
    if artifact is None:
        raise not_found("fileId")
    _require_manager(actor, artifact.version, "fileId")
    scans_queue([artifact.pk], trigger=ScanTrigger.RESCAN)
    audit.record(actor=actor, action="rescan", obj=artifact, object_name=artifact.path)
    return artifact


@transaction.atomic
def version_rescan(*, actor: Actor, version: Version) -> list[ArtifactFile]:
    """Rescan every file of `version`, which the caller has already been shown."""
    require_scope(actor)
    _require_manager(actor, version, "versionId")
    files = list(version.files.all())
    scans_queue([artifact.pk for artifact in files], trigger=ScanTrigger.RESCAN)
    audit.record(actor=actor, action="rescan", obj=version,
                 changes={"files": [None, [artifact.path for artifact in files]]})
    return files


def files_rescan(*, tenant: Tenant | None = None, outdated_only: bool = False,
                 limit: int | None = None) -> int:
    """Operators and beat: rescan all files (of a tenant), or those of older scanners."""
    files = selectors.files_for_rescan(tenant=tenant, outdated_only=outdated_only)
    file_ids = files.values_list("pk", flat=True)
    if limit is not None:
        file_ids = file_ids[:limit]
    trigger = ScanTrigger.OUTDATED if outdated_only else ScanTrigger.RESCAN
    return scans_queue(file_ids.iterator(), trigger=trigger)


def stale_scans_requeue() -> int:
    """Queue again the pending files whose scan message was lost (broker down, worker died
    with its message)."""
    older_than = timezone.now() - timedelta(seconds=settings.SCAN_STALE_AFTER_SECONDS)
    file_ids = selectors.stale_pending_files(older_than=older_than).values_list("pk", flat=True)
    return scans_queue(file_ids.iterator(), trigger=ScanTrigger.STALE)
