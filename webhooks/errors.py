from django.db import models


class WebhookErrorCode(models.TextChoices):
    """Codes of webhooks; not-found and permission codes are the common ones."""

    INVALID_URL = (
        "invalid_url",
        "The URL is not an absolute http(s) URL of at most 2000 characters without "
        "credentials, is not https where https is required, or names a non-public address.",
    )
    INVALID_EVENTS = "invalid_events", "Subscribe to one or more of the WebhookEvent values."
    INVALID_DESCRIPTION = "invalid_description", "A description has at most 200 characters."
    WEBHOOK_LIMIT = "webhook_limit", "The tenant has as many webhooks as it may have."
    WEBHOOK_INACTIVE = "webhook_inactive", "The webhook is inactive: activate it to test it."
