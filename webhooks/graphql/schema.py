import strawberry
import strawberry_django
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from strawberry import relay
from strawberry_django.relay import DjangoListConnection

from config.graphql_context import actor_of, decode_id
from webhooks import selectors
from webhooks.graphql.types import WebhookDeliveryType, WebhookType
from webhooks.models import WebhookDelivery


@strawberry.type
class Query:
    webhooks: DjangoListConnection[WebhookType] = strawberry_django.connection(
        description="The tenant's webhooks, for its tenant admins."
    )

    @strawberry_django.connection(
        DjangoListConnection[WebhookDeliveryType],
        description="A webhook's deliveries, newest first; empty for a webhook you cannot see.",
    )
    def webhook_deliveries(self, info: strawberry.Info, webhook_id: relay.GlobalID
                           ) -> QuerySet:
        try:
            pk = decode_id(webhook_id, "Webhook", field="webhookId")
        except ValidationError:  # unknown and invisible look alike
            return WebhookDelivery.objects.none()
        return selectors.webhook_deliveries(actor_of(info), pk)
