import uuid
from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry.scalars import JSON

from accounts.actor import Actor
from accounts.graphql.types import UserType
from config.graphql_node import RestrictedNode, model_type
from webhooks import models, selectors
from webhooks.graphql.enums import DeliveryStatusEnum, WebhookEventEnum


@model_type(models.Webhook, name="Webhook")
class WebhookType(RestrictedNode):
    url: str
    active: bool
    description: str
    created_by: UserType | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.webhooks_visible_to(actor))

    @strawberry_django.field(only=["events"])
    def events(self) -> list[WebhookEventEnum]:
        return [models.WebhookEvent(event) for event in self.events]


@model_type(models.WebhookDelivery, name="WebhookDelivery")
class WebhookDeliveryType(RestrictedNode):
    webhook: WebhookType
    uid: uuid.UUID = strawberry_django.field(
        description="The X-Registry-Delivery header: the same on every attempt.")
    event: str = strawberry_django.field(description="A WebhookEvent value, or `ping`.")
    payload: JSON = strawberry_django.field(description="The JSON body sent (and signed).")
    request_id: str = strawberry_django.field(description="The request that caused the event.")
    status: DeliveryStatusEnum
    attempts: int
    response_status: int | None = strawberry_django.field(
        description="The HTTP status of the last attempt.")
    latency_ms: int | None
    response_excerpt: str = strawberry_django.field(
        description="The first kilobyte of the last response's body.")
    error: str = strawberry_django.field(description="Why the last attempt failed.")
    created_at: datetime
    last_attempt_at: datetime | None
    completed_at: datetime | None

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.deliveries_visible_to(actor))


@strawberry.type(name="NewWebhookSecret")
class NewWebhookSecretType:
    secret: str = strawberry.field(description="Signs the deliveries: shown this once.")
    webhook: WebhookType
