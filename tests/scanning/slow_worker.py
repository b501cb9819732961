"""`celery worker` whose scans wait SCAN_TEST_DELAY_SECONDS before reading the file, so that a
test can kill the worker while a scan is under way. Run: python -m tests.scanning.slow_worker
worker -Q scanning ...; the delay is patched in here, never in the application."""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from config.celery import app  # noqa: E402
from scanning import services  # noqa: E402

_scan_stream = services.scan_stream


def _slow_scan_stream(stream, **options):
    time.sleep(float(os.environ["SCAN_TEST_DELAY_SECONDS"]))
    return _scan_stream(stream, **options)


services.scan_stream = _slow_scan_stream

if __name__ == "__main__":
    app.worker_main(sys.argv[1:])
