from scanning import services
from scanning.models import ScanTrigger


def scan_new_file(sender, file, **kwargs) -> None:
    """registry.signals.file_created: the new file is scanned once its row is committed."""
    services.scans_queue([file.pk], trigger=ScanTrigger.UPLOAD)
