from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from scanning import services


class Command(BaseCommand):
    help = ("Queue scans of stored files: all of them, a tenant's, or only those scanned by an "
            "older scanner version. Files stay downloadable as they are until rescanned.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="Only this tenant's files (its slug).")
        parser.add_argument("--outdated", action="store_true",
                            help="Only files scanned by an older scanner version.")

    def handle(self, *args, tenant: str | None = None, outdated: bool = False, **options):
        selected = None
        if tenant is not None:
            selected = Tenant.objects.filter(slug=tenant).first()
            if selected is None:
                raise CommandError(f"No tenant {tenant!r}.")
        queued = services.files_rescan(tenant=selected, outdated_only=outdated)
        self.stdout.write(f"Queued {queued} file(s) for scanning.")
