from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_migrate


def _ensure_default_tenant(sender, using: str = "default", **kwargs) -> None:
    from accounts.services import ensure_default_tenant

    ensure_default_tenant(using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Tenants and accounts"

    def ready(self) -> None:
        from accounts.models import Membership
        from accounts.receivers import membership_deleted, session_tenant_default

        # The default tenant exists after every `migrate`, on every database.
        post_migrate.connect(_ensure_default_tenant, sender=self)
        post_delete.connect(membership_deleted, sender=Membership,
                            dispatch_uid="accounts.membership_deleted")
        user_logged_in.connect(session_tenant_default,
                               dispatch_uid="accounts.session_tenant_default")
