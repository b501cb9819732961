"""The audit trail: one append-only row per change or security event."""

from django.conf import settings
from django.db import models

from accounts.models import Tenant


class ActorKind(models.TextChoices):
    USER = "user", "User (session or access token)"
    TOKEN = "token", "API token"
    SYSTEM = "system", "System job"
    ANONYMOUS = "anonymous", "Anonymous caller"


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit entries are append-only.")


class AuditEntry(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # SET_NULL, with the slug kept: the trail outlives a deleted tenant until retention.
    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    tenant_slug = models.CharField(max_length=100, blank=True)
    actor_kind = models.CharField(max_length=9, choices=ActorKind.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    actor_name = models.CharField(max_length=200, blank=True,
                                  help_text="Username, token label or job name, as it was.")
    action = models.CharField(max_length=64, db_index=True)
    object_kind = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=300, blank=True)
    # The model or dataset the object belongs to: entries follow its visibility.
    catalog_kind = models.CharField(max_length=16, blank=True)
    catalog_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True,
                               help_text='{"field": [before, after]}')
    request_id = models.CharField(max_length=128, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"]),
                   models.Index(fields=["object_kind", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_kind}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit entries are removed only by the retention purge.")
