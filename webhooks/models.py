"""Webhooks of a tenant, and the log of their deliveries."""

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Tenant


class WebhookEvent(models.TextChoices):
    """The events a webhook may subscribe to; the label is the description clients see.

    A new event is one line here and one `events.emit` call in the service that makes it
    happen (cleanup proposals will join when that feature exists).
    """

    MODEL_CREATED = "model.created", "A registered model was created."
    MODEL_DELETED = "model.deleted", "A registered model was deleted, with its versions."
    DATASET_CREATED = "dataset.created", "A dataset was created."
    DATASET_DELETED = "dataset.deleted", "A dataset was deleted, with its versions."
    MODEL_VERSION_CREATED = "model_version.created", "A model version was created."
    DATASET_VERSION_CREATED = "dataset_version.created", "A dataset version was created."
    MODEL_VERSION_DELETED = "model_version.deleted", "A model version was deleted, with its files."
    DATASET_VERSION_DELETED = ("dataset_version.deleted",
                               "A dataset version was deleted, with its files.")
    FILE_SCANNED = "file.scanned", "A file's scan finished; the payload has its verdict."
    FILE_RELEASED = "file.released", "A tenant admin released a flagged file."
    MODEL_ALIAS_SET = "model_alias.set", "An alias was set on, or moved to, a model version."
    MODEL_ALIAS_REMOVED = "model_alias.removed", "An alias was removed from a model."
    INFERENCE_SERVICE_DEPLOYED = ("inference_service.deployed",
                                  "An inference service was deployed, or a deployed one was "
                                  "pointed at another model version.")
    INFERENCE_SERVICE_UNDEPLOYED = ("inference_service.undeployed",
                                    "An inference service was undeployed.")


# Sent by testWebhook only, whatever the webhook subscribes to.
PING_EVENT = "ping"


class Webhook(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2000, help_text="Checked by services.url_clean.")
    # Kept as given: signing needs it. Shown once, when created or rotated (README).
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, help_text="WebhookEvent values subscribed to.")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one webhook, and how its attempts went. Its `uid` is the
    X-Registry-Delivery header: the same on every attempt, so receivers can drop repeats."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    request_id = models.CharField(max_length=128, blank=True,
                                  help_text="The request that caused the event.")
    status = models.CharField(max_length=9, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last attempt.")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=1024, blank=True,
                                        help_text="The first bytes of the last response.")
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["webhook", "-created_at"])]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} {self.uid}"
