from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class ScanningConfig(AppConfig):
    name = "scanning"
    verbose_name = "Scanning"

    def ready(self) -> None:
        from config.celery_schedule import sync_beat_schedule
        from registry.signals import file_created
        from scanning.receivers import scan_new_file

        file_created.connect(scan_new_file, dispatch_uid="scanning.scan_new_file")
        # The beat schedule is written to django-celery-beat's tables on every `migrate`, so
        # the admin lists the periodic jobs before beat first starts.
        post_migrate.connect(sync_beat_schedule, sender=apps.get_app_config("django_celery_beat"),
                             dispatch_uid="scanning.sync_beat_schedule")
