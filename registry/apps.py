from django.apps import AppConfig
from django.db.models.signals import post_delete


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from accounts.models import Membership
        from registry.receivers import membership_deleted

        post_delete.connect(membership_deleted, sender=Membership,
                            dispatch_uid="registry.membership_deleted")
