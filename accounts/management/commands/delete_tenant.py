from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from accounts.services import tenant_delete


class Command(BaseCommand):
    help = ("Delete a tenant with all its models, datasets, files, members' access and "
            "tokens; its stored files are deleted once the deletion is committed.")

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--confirm", required=True, metavar="SLUG",
                            help="Repeat the slug to confirm.")

    def handle(self, *args, slug, confirm, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}.")
        try:
            tenant_delete(tenant_id=tenant.pk, confirm_slug=confirm)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"Deleted tenant {slug}."))
