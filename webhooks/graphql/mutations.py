"""Webhooks of the caller's tenant (tenant admins): decode ids, call one service."""

import strawberry
import strawberry_django
from strawberry import relay

from config.graphql_context import DeletionType, actor_of, decode_id
from webhooks import services
from webhooks.graphql import inputs
from webhooks.graphql.types import NewWebhookSecretType, WebhookDeliveryType, WebhookType


@strawberry.type
class Mutation:
    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: a webhook, and the secret that signs its deliveries "
                    "(shown only here).",
    )
    def create_webhook(self, info: strawberry.Info, data: inputs.CreateWebhookInput
                       ) -> NewWebhookSecretType:
        webhook, secret = services.webhook_create(
            actor=actor_of(info), url=data.url, events=[event.value for event in data.events],
            active=data.active, description=data.description,
        )
        return NewWebhookSecretType(secret=secret, webhook=webhook)

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def update_webhook(self, info: strawberry.Info, data: inputs.UpdateWebhookInput
                       ) -> WebhookType:
        return services.webhook_update(
            actor=actor_of(info), webhook_id=decode_id(data.id, "Webhook"), url=data.url,
            events=None if data.events is None else [event.value for event in data.events],
            active=data.active, description=data.description,
        )

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: a new secret (shown only here); the old one stops signing.",
    )
    def rotate_webhook_secret(self, info: strawberry.Info, id: relay.GlobalID
                              ) -> NewWebhookSecretType:
        webhook, secret = services.webhook_secret_rotate(actor=actor_of(info),
                                                         webhook_id=decode_id(id, "Webhook"))
        return NewWebhookSecretType(secret=secret, webhook=webhook)

    @strawberry_django.mutation(handle_django_errors=True,
                                description="Tenant admins: the webhook and its deliveries.")
    def delete_webhook(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        services.webhook_delete(actor=actor_of(info), webhook_id=decode_id(id, "Webhook"))
        return DeletionType(deleted_id=id)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: queue a `ping` delivery to an active webhook.",
    )
    def test_webhook(self, info: strawberry.Info, id: relay.GlobalID) -> WebhookDeliveryType:
        return services.webhook_test(actor=actor_of(info), webhook_id=decode_id(id, "Webhook"))
