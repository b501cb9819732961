"""The periodic jobs: one schedule, in the database for the admin, on the right queues."""

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app, sync_beat_schedule
from config.celery_schedule import BEAT_SCHEDULE


def _queue(task_name: str) -> str:
    task = app.tasks[task_name]
    return app.amqp.router.route(dict(task._get_exec_options()), task_name, (), {},
                                 task)["queue"].name


@pytest.mark.django_db
def test_migrate_writes_the_schedule_where_the_admin_lists_it():
    rows = {task.name: (task.task, task.crontab.minute, task.crontab.hour, task.enabled)
            for task in PeriodicTask.objects.filter(name__in=BEAT_SCHEDULE)}

    assert rows == {
        "abort-stale-uploads": ("registry.tasks.abort_stale_uploads_task", "*/15", "*", True),
        "sweep-upload-temp-files": ("registry.tasks.sweep_upload_temp_files_task", "20", "*",
                                    True),
        "purge-trash": ("registry.tasks.purge_trash_task", "30", "2", True),
        "collect-unreferenced-blobs": ("registry.tasks.collect_unreferenced_blobs_task",
                                       "0", "3", True),
        "verify-storage-sample": ("registry.tasks.verify_storage_sample_task", "30", "4", True),
        "rescan-outdated-files": ("scanning.tasks.rescan_outdated_files_task", "*/10", "*",
                                  True),
        "requeue-stale-scans": ("scanning.tasks.requeue_stale_scans_task", "5-59/10", "*",
                                True),
        "purge-expired-logins": ("accounts.tasks.purge_expired_logins_task", "45", "3", True),
        "purge-audit-entries": ("audit.tasks.purge_audit_entries_task", "50", "3", True),
        "purge-cleanup": ("cleanup.tasks.purge_cleanup_task", "15", "2", True),
        "propose-cleanup": ("cleanup.tasks.propose_cleanup_task", "45", "2", True),
        "requeue-stale-webhook-deliveries": (
            "webhooks.tasks.requeue_stale_webhook_deliveries_task", "*/15", "*", True),
    }


@pytest.mark.django_db
def test_an_entry_disabled_in_the_admin_stays_disabled_after_a_sync():
    PeriodicTask.objects.filter(name="rescan-outdated-files").update(enabled=False)

    sync_beat_schedule()

    assert PeriodicTask.objects.get(name="rescan-outdated-files").enabled is False
    assert PeriodicTask.objects.filter(name__in=BEAT_SCHEDULE).count() == len(BEAT_SCHEDULE)


def test_every_scheduled_task_exists_and_runs_on_the_maintenance_queue():
    app.loader.import_default_modules()

    assert {name: _queue(entry["task"]) for name, entry in BEAT_SCHEDULE.items()} == {
        name: "maintenance" for name in BEAT_SCHEDULE
    }


def test_webhook_deliveries_run_on_the_default_queue():
    app.loader.import_default_modules()

    assert _queue("webhooks.tasks.deliver_webhook_task") == "default"


def test_scans_run_on_the_scanning_queue():
    app.loader.import_default_modules()

    assert _queue("scanning.tasks.scan_artifact_task") == "scanning"
