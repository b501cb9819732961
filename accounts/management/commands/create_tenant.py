import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import tenant_create


class Command(BaseCommand):
    help = ("Create a tenant and its first admin. The admin is an existing user, or a new one "
            "(with --admin-password, or a generated password that is printed).")

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--organization", required=True)
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-password", default=None)
        parser.add_argument("--address", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--phone", default="")

    def handle(self, *args, slug, organization, admin_username, admin_password, address, email,
               phone, **options):
        generated = admin_password is None and not User.objects.filter(
            username=admin_username).exists()
        if generated:
            admin_password = secrets.token_urlsafe(12)
        try:
            tenant = tenant_create(slug=slug, organization=organization, address=address,
                                   email=email, phone=phone, admin_username=admin_username,
                                   admin_password=admin_password)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} (id {tenant.pk})."))
        if generated:
            self.stdout.write(f"Tenant admin login: {admin_username} / {admin_password}")
