"""The periodic jobs, in one place.

Celery beat runs with django-celery-beat's DatabaseScheduler: these entries are written to its
tables on every `migrate` (and again when beat starts), so the admin lists them; an entry
disabled in the admin stays disabled, while its schedule and arguments follow this file.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "abort-stale-uploads": {
        "task": "registry.tasks.abort_stale_uploads_task",
        "schedule": crontab(minute="*/15"),
    },
    "sweep-upload-temp-files": {
        "task": "registry.tasks.sweep_upload_temp_files_task",
        "schedule": crontab(minute=20),
    },
    # Before the blob garbage collection, which then finds what a purge left unreferenced.
    "purge-trash": {
        "task": "registry.tasks.purge_trash_task",
        "schedule": crontab(minute=30, hour=2),
    },
    "collect-unreferenced-blobs": {
        "task": "registry.tasks.collect_unreferenced_blobs_task",
        "schedule": crontab(minute=0, hour=3),
    },
    "verify-storage-sample": {
        "task": "registry.tasks.verify_storage_sample_task",
        "schedule": crontab(minute=30, hour=4),
    },
    "rescan-outdated-files": {
        "task": "scanning.tasks.rescan_outdated_files_task",
        "schedule": crontab(minute="*/10"),
    },
    "requeue-stale-scans": {
        "task": "scanning.tasks.requeue_stale_scans_task",
        "schedule": crontab(minute="5-59/10"),
    },
    "requeue-stale-webhook-deliveries": {
        "task": "webhooks.tasks.requeue_stale_webhook_deliveries_task",
        "schedule": crontab(minute="*/15"),
    },
    "purge-expired-logins": {
        "task": "accounts.tasks.purge_expired_logins_task",
        "schedule": crontab(minute=45, hour=3),
    },
    # Before the trash's own purge and the blob garbage collection (03:00): the approved
    # items are checked again before they go.
    "purge-cleanup": {
        "task": "cleanup.tasks.purge_cleanup_task",
        "schedule": crontab(minute=15, hour=2),
    },
    "propose-cleanup": {
        "task": "cleanup.tasks.propose_cleanup_task",
        "schedule": crontab(minute=45, hour=2),
    },
    "purge-audit-entries": {
        "task": "audit.tasks.purge_audit_entries_task",
        "schedule": crontab(minute=50, hour=3),
    },
}
