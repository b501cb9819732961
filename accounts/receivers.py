from accounts.models import ApiToken, LoginSession, Membership, User


def membership_deleted(sender, instance: Membership, **kwargs) -> None:
    """However a membership goes (API, admin, a cascade), the user's tokens and groups in
    that tenant go with it, so adding the user back later revives neither."""
    LoginSession.objects.filter(user_id=instance.user_id, tenant_id=instance.tenant_id).delete()
    ApiToken.objects.filter(user_id=instance.user_id, tenant_id=instance.tenant_id).delete()
    User.groups.through.objects.filter(
        user_id=instance.user_id, group__tenant_group__tenant_id=instance.tenant_id
    ).delete()
