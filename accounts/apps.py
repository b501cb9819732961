from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_default_tenant(sender, using: str = "default", **kwargs) -> None:
    from accounts.services import ensure_default_tenant

    ensure_default_tenant(using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Tenants and accounts"

    def ready(self) -> None:
        # The default tenant exists after every `migrate`, on every database.
        post_migrate.connect(_ensure_default_tenant, sender=self)
