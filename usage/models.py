"""Pulls and pushes per file, day and caller: one row per (file, day, caller), upserted."""

from django.conf import settings
from django.db import models

from accounts.models import ApiToken, Tenant
from registry.models import ArtifactFile


class DailyUsage(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    file = models.ForeignKey(ArtifactFile, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    # "user:<id>", "token:<id>" or "anonymous": NULLs are distinct in a unique constraint,
    # so the caller is keyed by a non-null string and the FKs below say who it was.
    caller = models.CharField(max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    pulls = models.PositiveIntegerField(default=0)
    pushes = models.PositiveIntegerField(default=0)
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "usage_dailyusage"  # named in the upsert of services
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(fields=["file", "day", "caller"], name="usage_per_day_caller")
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="usage_tenant_day")]

    def __str__(self) -> str:
        return f"{self.file_id} {self.day} {self.caller}"
