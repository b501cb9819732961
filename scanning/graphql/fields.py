"""`scanReports` on the registry's file and version types (registry.graphql.types)."""

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from django.db.models import Prefetch, prefetch_related_objects
from strawberry_django.optimizer import mark_optimized_by_prefetching

from registry import selectors as registry_selectors
from registry.models import ArtifactFile, Version
from scanning.models import ScanFinding, ScanReport

if TYPE_CHECKING:
    from scanning.graphql.types import ScanReportType

ScanReportList = list[Annotated["ScanReportType", strawberry.lazy("scanning.graphql.types")]]


def file_scan_reports_field():
    return strawberry_django.field(description="Scans of this file, newest first.")


def _files_with_reports(info: strawberry.Info | None = None) -> Prefetch:
    """The version's files with their reports and findings: three queries per page.

    The version was found visible, so its files' reports are too: the nested querysets are
    marked as restricted already, else the findings of each report would be queried again.
    A new Prefetch each time: Django rewrites a Prefetch in place when it is nested.
    """
    findings = mark_optimized_by_prefetching(ScanFinding.objects.all())
    reports = ScanReport.objects.prefetch_related(Prefetch("findings", queryset=findings))
    files = registry_selectors.untrashed(ArtifactFile.objects.order_by("path")).prefetch_related(
        Prefetch("scan_reports", queryset=reports)
    )
    return Prefetch("files", queryset=files, to_attr="files_with_scan_reports")


def version_scan_reports_field():
    @strawberry_django.field(prefetch_related=[_files_with_reports],
                             description="Scans of the version's files, by path, newest first.")
    def scan_reports(root: Version) -> ScanReportList:
        if not hasattr(root, "files_with_scan_reports"):  # not fetched through the optimizer
            prefetch_related_objects([root], _files_with_reports())
        return [report for artifact in root.files_with_scan_reports
                for report in artifact.scan_reports.all()]

    return scan_reports
