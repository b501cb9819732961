import strawberry

from webhooks import models

WebhookEventEnum = strawberry.enum(models.WebhookEvent, name="WebhookEvent")
DeliveryStatusEnum = strawberry.enum(models.DeliveryStatus, name="WebhookDeliveryStatus")
