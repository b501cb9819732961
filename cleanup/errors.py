from django.db import models


class CleanupErrorCode(models.TextChoices):
    """Codes of retention policies and cleanup proposals; not-found and permission codes are
    the common ones."""

    INVALID_DORMANT_DAYS = (
        "invalid_dormant_days", "Dormant days are a whole number from 1 to 3650.",
    )
    INVALID_KEEP_NEWEST = (
        "invalid_keep_newest", "The versions kept per model or dataset are 0 to 1000.",
    )
    PROPOSAL_CLOSED = (
        "proposal_closed", "The proposal was purged: compute a new one.",
    )
    ITEM_NOT_PROPOSED = (
        "item_not_proposed", "Only a proposed item (not yet trashed, skipped or excluded) is "
                             "approved or excluded.",
    )
