from django.apps import AppConfig
from django.db.models.signals import post_delete


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from accounts.models import Membership
        from accounts.signals import tenant_deleting
        from config import user_patterns
        from registry.receivers import membership_deleted, tenant_deleting_receiver

        post_delete.connect(membership_deleted, sender=Membership,
                            dispatch_uid="registry.membership_deleted")
        tenant_deleting.connect(tenant_deleting_receiver, dispatch_uid="registry.tenant_deleting")
        user_patterns.install()  # the catalog's `regex`/`iRegex` filters
