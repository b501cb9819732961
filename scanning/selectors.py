"""Scanning reads. Reports are visible exactly when their file is (registry.selectors)."""

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from accounts.actor import Actor
from accounts.models import Tenant
from registry import selectors as registry_selectors
from registry.models import ArtifactFile, ScanStatus, Version
from scanning.models import ScanFinding, ScanRelease, ScanReport
from scanning.scanners import SCANNER_VERSION


def restrict_reports(queryset: QuerySet, actor: Actor) -> QuerySet[ScanReport]:
    return queryset.filter(file__in=registry_selectors.files_visible_to(actor))


def restrict_findings(queryset: QuerySet, actor: Actor) -> QuerySet[ScanFinding]:
    return queryset.filter(report__file__in=registry_selectors.files_visible_to(actor))


def version_reports(version: Version) -> QuerySet[ScanReport]:
    """Reports of the files of `version` (already checked visible), by path, newest first."""
    return ScanReport.objects.filter(file__in=version.files.all()).order_by(
        "file__path", "-started_at", "-pk"
    )


def is_scanned_by_current_version(artifact: ArtifactFile) -> bool:
    return (artifact.scan_status != ScanStatus.PENDING
            and artifact.scanner_version == SCANNER_VERSION)


def interrupted_scans(artifact: ArtifactFile, limit: int) -> list[ScanReport]:
    """The unfinished reports since the file's last finished scan, newest first (≤ limit)."""
    interrupted = []
    for report in ScanReport.objects.filter(file=artifact).order_by("-pk")[:limit]:
        if report.finished_at is not None:
            break
        interrupted.append(report)
    return interrupted


def latest_release(artifact: ArtifactFile) -> ScanRelease | None:
    return ScanRelease.objects.filter(file=artifact).select_related("report").first()


def latest_finished_report(artifact: ArtifactFile) -> ScanReport | None:
    return ScanReport.objects.filter(file=artifact, finished_at__isnull=False).first()


def finding_keys(report: ScanReport) -> set[tuple[str, str]]:
    """What a release accepts: each finding's code at its location."""
    return set(report.findings.values_list("code", "location"))


def files_for_rescan(*, tenant: Tenant | None = None,
                     outdated_only: bool = False) -> QuerySet[ArtifactFile]:
    files = ArtifactFile.objects.all()
    if tenant is not None:
        files = files.filter(tenant=tenant)
    if outdated_only:
        # Pending files are on their way to the current scanner already.
        files = files.exclude(scan_status=ScanStatus.PENDING).exclude(
            scanner_version=SCANNER_VERSION
        )
    return files.order_by("pk")


def stale_pending_files(*, older_than: datetime) -> QuerySet[ArtifactFile]:
    """Pending files created before `older_than` with no scan started since: lost messages."""
    recent_scan = ScanReport.objects.filter(file=OuterRef("pk"), started_at__gte=older_than)
    return (ArtifactFile.objects.filter(scan_status=ScanStatus.PENDING,
                                        created_at__lt=older_than)
            .exclude(Exists(recent_scan)).order_by("pk"))
