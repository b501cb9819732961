from django.apps import AppConfig


class ScanningConfig(AppConfig):
    name = "scanning"
    verbose_name = "Scanning"

    def ready(self) -> None:
        from registry.signals import file_created
        from scanning.receivers import scan_new_file

        file_created.connect(scan_new_file, dispatch_uid="scanning.scan_new_file")
