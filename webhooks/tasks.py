"""Webhook tasks: thin, take ids, call one service. Deliveries run on the `default` queue,
the periodic requeue on `maintenance` (settings.py)."""

from celery import shared_task

from webhooks import services


@shared_task(bind=True, acks_late=True, max_retries=None, soft_time_limit=60, time_limit=90)
def deliver_webhook_task(self, delivery_id: int) -> None:
    """One attempt; the service counts them (WEBHOOK_MAX_ATTEMPTS) and sets the backoff."""
    countdown = services.delivery_attempt(delivery_id=delivery_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(acks_late=True, time_limit=600)
def requeue_stale_webhook_deliveries_task() -> int:
    return services.stale_deliveries_requeue()
