"""Scanning tasks: thin, take ids, call one service. Scans are routed to the `scanning`
queue, the periodic jobs (config/celery_schedule.py) to `maintenance` (settings.py)."""

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from django.conf import settings

from scanning import services
from scanning.models import ScanTrigger


class ScanTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Hard time limits, exhausted storage retries, anything escaping the service: the file
        # is recorded as an error and stays quarantined (fail closed).
        file_id, trigger = _arguments(args, kwargs)
        services.scan_record_failure(file_id=file_id, trigger=trigger,
                                     failure=_failure_message(exc))


def _arguments(args, kwargs) -> tuple[int, str]:
    values = dict(zip(("file_id", "trigger"), args, strict=False)) | kwargs
    return values["file_id"], values.get("trigger", ScanTrigger.UPLOAD)


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, TimeLimitExceeded):
        return (f"The scan exceeded its hard time limit of {scan_artifact_task.time_limit} s "
                "and its process was stopped.")
    if isinstance(exc, services.StorageUnavailable):
        return "The file's bytes could not be read from storage, after several attempts."
    return f"The scan task failed ({type(exc).__name__})."


@shared_task(
    base=ScanTask,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.SCAN_TIME_LIMIT_SECONDS,
    time_limit=settings.SCAN_TIME_LIMIT_SECONDS + 60,
    autoretry_for=(services.StorageUnavailable,),
    max_retries=5,
    retry_backoff=30,
    retry_backoff_max=900,
)
def scan_artifact_task(file_id: int, trigger: str = ScanTrigger.UPLOAD) -> None:
    services.scan_file(file_id=file_id, trigger=trigger)


@shared_task(acks_late=True, time_limit=600)
def rescan_outdated_files_task() -> int:
    """Rescan, a batch per run, the files scanned by an older scanner version."""
    return services.files_rescan(outdated_only=True, limit=settings.SCAN_RESCAN_BATCH_SIZE)


@shared_task(acks_late=True, time_limit=600)
def requeue_stale_scans_task() -> int:
    return services.stale_scans_requeue()
