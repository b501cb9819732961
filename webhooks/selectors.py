"""Reads of webhooks: only the tenant admins of their tenant (and the superuser working in
it) see them, with credentials that may administer."""

from django.db.models import QuerySet

from accounts.actor import Actor
from accounts.models import TokenScope
from webhooks.models import Webhook, WebhookDelivery


def webhooks_visible_to(actor: Actor) -> QuerySet[Webhook]:
    if not (actor.is_tenant_admin and actor.has_scope(TokenScope.ADMIN)):
        return Webhook.objects.none()
    return Webhook.objects.filter(tenant=actor.tenant)


def deliveries_visible_to(actor: Actor) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook__in=webhooks_visible_to(actor))


def webhook_deliveries(actor: Actor, webhook_id: int) -> QuerySet[WebhookDelivery]:
    """The webhook's deliveries, newest first; none for a webhook the actor cannot see."""
    return deliveries_visible_to(actor).filter(webhook_id=webhook_id).order_by("-created_at",
                                                                               "-pk")
