from accounts.authentication import SESSION_TENANT_KEY
from accounts.models import ApiToken, LoginSession, Membership, User


def membership_deleted(sender, instance: Membership, **kwargs) -> None:
    """However a membership goes (API, admin, a cascade), the user's tokens and groups in
    that tenant go with it, so adding the user back later revives neither."""
    LoginSession.objects.filter(user_id=instance.user_id, tenant_id=instance.tenant_id).delete()
    ApiToken.objects.filter(user_id=instance.user_id, tenant_id=instance.tenant_id).delete()
    User.groups.through.objects.filter(
        user_id=instance.user_id, group__tenant_group__tenant_id=instance.tenant_id
    ).delete()


def session_tenant_default(sender, request, user: User, **kwargs) -> None:
    """A session login (admin, GraphiQL) of a member of exactly one tenant works in that
    tenant from the start, instead of the default tenant it may not belong to."""
    if request is None or SESSION_TENANT_KEY in request.session:
        return
    slugs = list(user.memberships.values_list("tenant__slug", flat=True)[:2])
    if len(slugs) == 1:
        request.session[SESSION_TENANT_KEY] = slugs[0]
