import strawberry

from webhooks.graphql.enums import WebhookEventEnum


@strawberry.input
class CreateWebhookInput:
    url: str = strawberry.field(description="https (outside development), a public host.")
    events: list[WebhookEventEnum]
    active: bool = True
    description: str = ""


@strawberry.input
class UpdateWebhookInput:
    id: strawberry.relay.GlobalID
    url: str | None = None
    events: list[WebhookEventEnum] | None = None
    active: bool | None = None
    description: str | None = None
