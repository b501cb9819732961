import os
import secrets

from django.core.management.base import BaseCommand

from accounts.services import demo_superuser_ensure


class Command(BaseCommand):
    help = ("Ensure the first superuser (admin of the default tenant): `make run`, and "
            "compose's create-admin service.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default=None)
        parser.add_argument("--password", default=None)

    def handle(self, *args, username=None, password=None, **options):
        username = username or os.environ.get("REGISTRY_ADMIN_USERNAME", "admin")
        # An empty variable (compose passes one when unset) means: generate one.
        password = password or os.environ.get("REGISTRY_ADMIN_PASSWORD") or None
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        user, created = demo_superuser_ensure(username=username, password=password)
        if not created and generated:
            self.stdout.write(f"Admin user {username!r} exists; its password is unchanged "
                              "(set REGISTRY_ADMIN_PASSWORD to choose one).")
            return
        if not created:
            user.set_password(password)
            user.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS(
            f"Admin login: {username} / {password}   (admin: /admin/, GraphiQL: /graphql/)"
        ))
