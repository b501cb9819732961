"""Writes of webhooks (tenant admins), and one delivery attempt (the Celery task's).

The secret signs every delivery, so it is kept as given; it is shown once, by the mutation
that creates or rotates it, and never again (not by queries, not in the admin).
"""

import json
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import CodedValidationError, not_found
from accounts.services import require_tenant_admin
from config import metrics
from webhooks import delivery as http_delivery
from webhooks import events
from webhooks.errors import WebhookErrorCode as Code
from webhooks.models import PING_EVENT, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

MAX_URL_LENGTH = 2000
# A pending delivery untouched for longer than any retry waits, plus this, lost its message.
STALE_DELIVERY_MARGIN = timedelta(minutes=15)
REQUEUE_BATCH_SIZE = 1000
MAX_DESCRIPTION_LENGTH = 200
SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def url_clean(url: str) -> str:
    url = url.strip()
    refusal = ("At most 2000 characters." if len(url) > MAX_URL_LENGTH
               else http_delivery.url_refusal(url))
    if refusal is not None:
        raise CodedValidationError({"url": refusal}, code=Code.INVALID_URL)
    return url


def events_clean(subscribed: list[str]) -> list[str]:
    unknown = sorted(set(subscribed) - set(WebhookEvent.values))
    if not subscribed or unknown:
        raise CodedValidationError(
            {"events": f"Unknown events: {', '.join(unknown)}." if unknown
             else "Subscribe to at least one event."}, code=Code.INVALID_EVENTS)
    return sorted(set(subscribed))


def description_clean(description: str) -> str:
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise CodedValidationError(
            {"description": f"At most {MAX_DESCRIPTION_LENGTH} characters."},
            code=Code.INVALID_DESCRIPTION)
    return description


@transaction.atomic
def webhook_create(*, actor: Actor, url: str, events: list[str], active: bool = True,
                   description: str = "") -> tuple[Webhook, str]:
    """A webhook of the actor's tenant, and its secret (to show once)."""
    require_tenant_admin(actor)
    webhook = Webhook(tenant=actor.tenant, url=url_clean(url), events=events_clean(events),
                      active=active, description=description_clean(description),
                      secret=secret_generate(), created_by=actor.user)
    # One at a time per tenant, so concurrent creations cannot pass the limit together.
    type(actor.tenant).objects.select_for_update().filter(pk=actor.tenant.pk).first()
    webhook_limit_check(actor.tenant)
    webhook.save()
    return webhook, webhook.secret


def webhook_limit_check(tenant) -> None:
    if Webhook.objects.filter(tenant=tenant).count() >= settings.WEBHOOK_MAX_PER_TENANT:
        raise CodedValidationError(
            f"A tenant has at most {settings.WEBHOOK_MAX_PER_TENANT} webhooks.",
            code=Code.WEBHOOK_LIMIT)


def webhook_for_admin(*, actor: Actor, webhook_id: int, field: str = "id") -> Webhook:
    """The actor's tenant's webhook, locked, else NOT_FOUND (another tenant's included)."""
    require_tenant_admin(actor)
    webhook = (Webhook.objects.select_for_update().select_related("tenant")
               .filter(tenant=actor.tenant, pk=webhook_id).first())
    if webhook is None:
        raise not_found(field)
    return webhook


@transaction.atomic
def webhook_update(*, actor: Actor, webhook_id: int, url: str | None = None,
                   events: list[str] | None = None, active: bool | None = None,
                   description: str | None = None) -> Webhook:
    webhook = webhook_for_admin(actor=actor, webhook_id=webhook_id)
    if url is not None:
        webhook.url = url_clean(url)
    if events is not None:
        webhook.events = events_clean(events)
    if active is not None:
        webhook.active = active
    if description is not None:
        webhook.description = description_clean(description)
    webhook.save()
    return webhook


@transaction.atomic
def webhook_secret_rotate(*, actor: Actor, webhook_id: int) -> tuple[Webhook, str]:
    """A new secret; deliveries from now on, retries included, are signed with it."""
    webhook = webhook_for_admin(actor=actor, webhook_id=webhook_id)
    webhook.secret = secret_generate()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook, webhook.secret


@transaction.atomic
def webhook_delete(*, actor: Actor, webhook_id: int) -> None:
    webhook_for_admin(actor=actor, webhook_id=webhook_id).delete()


@transaction.atomic
def webhook_test(*, actor: Actor, webhook_id: int) -> WebhookDelivery:
    """Queue a `ping` delivery to the webhook."""
    webhook = webhook_for_admin(actor=actor, webhook_id=webhook_id)
    if not webhook.active:
        raise CodedValidationError({"id": "The webhook is inactive."},
                                   code=Code.WEBHOOK_INACTIVE)
    return events.ping(webhook)


# --- Delivery ------------------------------------------------------------------------------

def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The bytes sent and signed: the same on every attempt."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> int:
    """Seconds before the attempt after the `attempts`-th: exponential, capped."""
    return min(settings.WEBHOOK_RETRY_BACKOFF_SECONDS * 2 ** (attempts - 1),
               settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS)


def delivery_attempt(*, delivery_id: int) -> int | None:
    """Make one attempt of a pending delivery and record it. Returns the seconds to wait
    before the next attempt, or None when the delivery is over (or was already)."""
    delivery = (WebhookDelivery.objects.select_related("webhook")
                .filter(pk=delivery_id, status=DeliveryStatus.PENDING).first())
    if delivery is None:
        return None  # done already (a redelivered task), or deleted with its webhook
    webhook = delivery.webhook
    if webhook.active or delivery.event == PING_EVENT:
        body = delivery_body(delivery)
        headers = http_delivery.signed_headers(
            secret=webhook.secret, body=body, event=delivery.event,
            delivery_uid=str(delivery.uid), request_id=delivery.request_id,
            timestamp=int(time.time()))
        result = http_delivery.send(url=webhook.url, body=body, headers=headers)
    else:
        result = http_delivery.AttemptResult(error="The webhook was deactivated.")
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    delivery.response_status = result.status_code
    delivery.latency_ms = result.latency_ms
    delivery.response_excerpt = result.excerpt
    delivery.error = result.error[:500]
    retry = (not result.succeeded and result.retryable
             and delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS)
    if not retry:
        delivery.status = DeliveryStatus.SUCCEEDED if result.succeeded else DeliveryStatus.FAILED
        delivery.completed_at = delivery.last_attempt_at
    delivery.save()
    metrics.WEBHOOK_DELIVERIES.labels(delivery.event, "retried" if retry
                                      else delivery.status).inc()
    return retry_delay(delivery.attempts) if retry else None


def stale_deliveries_requeue() -> int:
    """Queue again the pending deliveries whose message was lost (the broker was down when
    they were queued, or a worker died with it): nothing happened to them for longer than
    the longest retry wait. Receivers may see a delivery twice; its id tells them."""
    cutoff = (timezone.now() - timedelta(seconds=settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS)
              - STALE_DELIVERY_MARGIN)
    stale = WebhookDelivery.objects.filter(
        Q(last_attempt_at__lt=cutoff) | Q(last_attempt_at__isnull=True, created_at__lt=cutoff),
        status=DeliveryStatus.PENDING,
    ).order_by("pk").values_list("pk", flat=True)[:REQUEUE_BATCH_SIZE]
    delivery_ids = list(stale)
    events.deliveries_queue(delivery_ids)
    return len(delivery_ids)
