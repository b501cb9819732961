"""The Celery app: configured from Django settings (CELERY_*), tasks found in each app."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging
from django.db.models.signals import post_migrate
from django_structlog.celery.steps import DjangoStructLogInitStep

from config.celery_schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()
# Task lines carry the context of the request that queued them (django-structlog).
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Workers log through settings.LOGGING (structured lines), not Celery's own handlers."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def sync_beat_schedule(app_config=None, **kwargs) -> None:
    """Write BEAT_SCHEDULE to django-celery-beat's tables, one PeriodicTask row per entry, on
    every `migrate` (its post_migrate), so the admin lists the periodic jobs before beat first
    starts."""
    if app_config is not None and app_config.label != "django_celery_beat":
        return
    from django_celery_beat.schedulers import ModelEntry

    for name, entry in BEAT_SCHEDULE.items():
        ModelEntry.from_entry(name, app=app, **entry)


post_migrate.connect(sync_beat_schedule, dispatch_uid="config.sync_beat_schedule")
