"""Periodic maintenance of uploads and blobs: thin tasks, each calling one service. Routed to
the `maintenance` queue; scheduled in config/celery_schedule.py."""

from celery import shared_task
from django.conf import settings

from registry import transfer, trash, upload_housekeeping
from registry.storage import blobs

# Under the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT_SECONDS, 1 h by default).
SOFT_TIME_LIMIT = 3000
TIME_LIMIT = 3300


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def abort_stale_uploads_task() -> dict[str, int]:
    """Expired upload sessions, dangling S3 multipart uploads, leftover staging objects."""
    return transfer.upload_sessions_expire()


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def collect_unreferenced_blobs_task() -> dict[str, int]:
    """Blobs no file refers to, and stored objects that no blob accounts for."""
    return {"blobs_deleted": blobs.blobs_collect_garbage(),
            "orphans_deleted": len(blobs.orphans_delete())}


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def verify_storage_sample_task() -> dict[str, int]:
    """Re-hash the least recently verified blobs; problems land in Blob.integrity_error."""
    report = blobs.blobs_verify(limit=settings.STORAGE_VERIFY_SAMPLE_SIZE)
    return {"verified": report.verified, "missing": len(report.missing),
            "mismatched": len(report.mismatched)}


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def sweep_upload_temp_files_task() -> dict[str, int]:
    """Request bodies spooled by a server process that died mid-upload."""
    return upload_housekeeping.orphaned_upload_temp_files_delete()


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def purge_trash_task() -> dict[str, int]:
    """Trashed versions and files whose restore window has passed; resumable if cut short."""
    result = trash.trash_purge_due()
    return {"versions": result.versions, "files": result.files,
            "bytes_reclaimed": result.bytes_reclaimed}
