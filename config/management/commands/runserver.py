"""`runserver` whose static files answer 404, not 500, for a path leaving the static folders.

staticfiles' handler wraps the whole application, so `/static/../settings.py` raised
SuspiciousFileOperation past every middleware. This app is listed before
django.contrib.staticfiles, so its command is the one `manage.py runserver` runs.
"""

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.contrib.staticfiles.management.commands import runserver
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404


class ContainedStaticFilesHandler(StaticFilesHandler):
    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousFileOperation as error:
            raise Http404("Not found.") from error


class Command(runserver.Command):
    def get_handler(self, *args, **options):
        handler = super().get_handler(*args, **options)
        if isinstance(handler, StaticFilesHandler):
            return ContainedStaticFilesHandler(handler.application)
        return handler
