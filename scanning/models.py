"""Scan reports: what each scan of a file found, and who released flagged files and why."""

from enum import StrEnum

from django.conf import settings
from django.db import models

from registry.models import ArtifactFile
from scanning.scanners import Severity, Verdict


def choices_of(values: type[StrEnum]) -> list[tuple[str, str]]:
    return [(value.value, value.value.capitalize()) for value in values]


class ScanTrigger(models.TextChoices):
    UPLOAD = "upload", "New file"
    RESCAN = "rescan", "Rescan requested"
    OUTDATED = "outdated", "Scanner version changed"
    STALE = "stale", "Pending scan requeued"


class ScanReport(models.Model):
    """One scan of one file.

    The row is written when the scan starts, as an ERROR without `finished_at`, and completed
    when it ends: a scan whose worker crashed stays on record as an error, never as a pass.
    """

    file = models.ForeignKey(ArtifactFile, on_delete=models.CASCADE,
                             related_name="scan_reports")
    trigger = models.CharField(max_length=8, choices=ScanTrigger.choices)
    scanner = models.CharField(max_length=50, blank=True,
                               help_text="The scanner the content was routed to.")
    scanner_version = models.CharField(max_length=50)
    verdict = models.CharField(max_length=8, choices=choices_of(Verdict), default=Verdict.ERROR)
    detected_format = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=1000, blank=True,
                             help_text="Why the scan could not complete, when it could not.")
    worker = models.CharField(max_length=300, blank=True, help_text="host:pid of the scan.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["file", "-started_at"], name="scan_report_file_started")]

    def __str__(self) -> str:
        return f"{self.file} {self.verdict} ({self.scanner_version})"


class ScanFinding(models.Model):
    report = models.ForeignKey(ScanReport, on_delete=models.CASCADE, related_name="findings")
    severity = models.CharField(max_length=8, choices=choices_of(Severity))
    code = models.CharField(max_length=100)
    message = models.CharField(max_length=2000)
    location = models.CharField(max_length=1100)

    class Meta:
        ordering = ["pk"]  # the scanner's own order
        indexes = [models.Index(fields=["severity"], name="scan_finding_severity")]

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at {self.location}"


class ScanRelease(models.Model):
    """A tenant admin's decision to make a flagged file downloadable, for these findings."""

    file = models.ForeignKey(ArtifactFile, on_delete=models.CASCADE, related_name="releases")
    report = models.ForeignKey(ScanReport, on_delete=models.CASCADE, related_name="releases",
                               help_text="The flagged report whose findings were accepted.")
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.file} released by {self.released_by}"
