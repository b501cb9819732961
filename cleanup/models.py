"""Cleanup of dormant versions: a tenant's retention policy, the proposals the periodic job
writes from it, their items, and the versions an admin excluded for good."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Tenant
from registry.models import DatasetVersion, ModelVersion

DEFAULT_DORMANT_DAYS = 180
DEFAULT_KEEP_NEWEST = 3


class RetentionPolicy(models.Model):
    """What counts as dormant in a tenant. Disabled until a tenant admin enables it: a
    tenant without a row has the defaults, disabled."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="retention_policy")
    enabled = models.BooleanField(default=False)
    dormant_days = models.PositiveIntegerField(
        default=DEFAULT_DORMANT_DAYS,
        help_text="A version older than this, not pulled for this long, is dormant.")
    keep_newest = models.PositiveIntegerField(
        default=DEFAULT_KEEP_NEWEST,
        help_text="The newest this many versions of every model or dataset are kept.")
    applies_to_models = models.BooleanField(default=True)
    applies_to_datasets = models.BooleanField(default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"retention policy of {self.tenant}"


class ProposalState(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"
    PURGED = "purged", "Purged"


class CleanupProposal(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE,
                               related_name="cleanup_proposals")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=18, choices=ProposalState.choices,
                             default=ProposalState.OPEN)
    # The policy it was computed with, as it was.
    dormant_days = models.PositiveIntegerField()
    keep_newest = models.PositiveIntegerField()
    item_count = models.PositiveIntegerField(default=0)
    size = models.BigIntegerField(default=0, help_text="Bytes of the proposed versions' files.")
    reclaimable_bytes = models.BigIntegerField(
        default=0, help_text="Bytes deleting every item would free, after deduplication.")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # Added up from the purged items once none is left to purge.
    purged_versions = models.PositiveIntegerField(default=0)
    purged_files = models.PositiveIntegerField(default=0)
    reclaimed_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="cleanup_proposal_tenant")]

    def __str__(self) -> str:
        return f"proposal {self.pk} of {self.created_at:%Y-%m-%d %H:%M}"


class ItemState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    EXCLUDED = "excluded", "Excluded for good"
    TRASHED = "trashed", "In the trash"
    SKIPPED = "skipped", "Skipped (protected since the proposal)"
    RESTORED = "restored", "Restored from the trash"
    PURGED = "purged", "Purged"


class ProposalItem(models.Model):
    """One proposed version. Its version may be gone (purged or deleted): the label stays."""

    proposal = models.ForeignKey(CleanupProposal, on_delete=models.CASCADE,
                                 related_name="items")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    dataset_version = models.ForeignKey(DatasetVersion, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=310, help_text="<model or dataset> <version>")
    # Why it qualifies, as found: `reason` spells it out.
    version_created_at = models.DateTimeField()
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    newer_versions = models.PositiveIntegerField()
    size = models.BigIntegerField(default=0)
    reclaimable_bytes = models.BigIntegerField(default=0)
    state = models.CharField(max_length=8, choices=ItemState.choices,
                             default=ItemState.PROPOSED)
    skip_reason = models.CharField(max_length=300, blank=True)
    reclaimed_bytes = models.BigIntegerField(default=0)
    purged_files = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label", "pk"]
        indexes = [models.Index(fields=["proposal", "state"], name="cleanup_item_state")]

    def __str__(self) -> str:
        return self.label

    @property
    def version(self) -> ModelVersion | DatasetVersion | None:
        return self.model_version or self.dataset_version

    @property
    def reason(self) -> str:
        newer = f"{self.newer_versions} newer version{'s' if self.newer_versions != 1 else ''}"
        if self.last_pulled_at is None:
            created = timezone.localdate(self.version_created_at)
            return f"never pulled (created {created:%Y-%m-%d}), {newer}"
        return f"not pulled since {timezone.localdate(self.last_pulled_at):%Y-%m-%d}, {newer}"


class ExcludedVersion(models.Model):
    """A version a tenant admin excluded from cleanup for good."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    model_version = models.OneToOneField(ModelVersion, null=True, blank=True,
                                         on_delete=models.CASCADE, related_name="+")
    dataset_version = models.OneToOneField(DatasetVersion, null=True, blank=True,
                                           on_delete=models.CASCADE, related_name="+")
    excluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(model_version__isnull=False, dataset_version__isnull=True)
                | models.Q(model_version__isnull=True, dataset_version__isnull=False),
                name="excluded_version_is_one_version",
            ),
        ]

    def __str__(self) -> str:
        return str(self.model_version or self.dataset_version)
