from celery import shared_task

from audit import services


@shared_task(acks_late=True, time_limit=600)
def purge_audit_entries_task() -> int:
    return services.retention_purge()
