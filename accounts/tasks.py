"""Periodic maintenance of logins: thin tasks calling one service. Routed to the
`maintenance` queue; scheduled in config/celery_schedule.py."""

from celery import shared_task

from accounts import services


@shared_task(soft_time_limit=300, time_limit=360)
def purge_expired_logins_task() -> dict[str, int]:
    """Logins past their refresh window: nothing can use them any more."""
    return {"logins_deleted": services.expired_logins_purge()}
