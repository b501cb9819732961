from accounts.models import Membership
from registry.selectors import PERMISSION_TABLES


def membership_deleted(sender, instance: Membership, **kwargs) -> None:
    """A user who leaves a tenant loses what was shared with them there, so adding them back
    later revives none of it (as with their tokens and groups)."""
    for user_permissions, _ in PERMISSION_TABLES.values():
        user_permissions.objects.filter(
            user_id=instance.user_id, content_object__tenant_id=instance.tenant_id
        ).delete()
