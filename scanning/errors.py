from django.db import models


class ScanningErrorCode(models.TextChoices):
    """Codes of the scanning domain; not-found and permission codes come from the registry."""

    NOT_FLAGGED = "not_flagged", "Only a file whose scan flagged it can be released."
    NO_SCAN_REPORT = (
        "no_scan_report",
        "The flagged file has no finished scan whose findings a release could accept; rescan it.",
    )
    INVALID_REASON = "invalid_reason", "A release needs a reason of 1 to 2000 characters."
    INVALID_RESCAN_TARGET = (
        "invalid_rescan_target", "Give exactly one of fileId and versionId to rescan."
    )
