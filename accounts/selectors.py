from accounts.actor import Actor
from accounts.models import Membership, Tenant, User


def default_tenant() -> Tenant:
    return Tenant.objects.get(is_default=True)


def membership_for(*, user: User, tenant: Tenant) -> Membership | None:
    return Membership.objects.filter(user=user, tenant=tenant).first()


def actor_for(*, user: User, tenant: Tenant | None = None,
              scopes: frozenset[str] | None = None) -> Actor:
    """The actor of `user` in `tenant` (default tenant when omitted).

    A user without a membership in the tenant gets no tenant at all, so every tenant-scoped
    query comes back empty; the superuser may act in any tenant as its admin.
    """
    if not user.is_active:
        return Actor(user=None, tenant=None)
    tenant = tenant or default_tenant()
    membership = membership_for(user=user, tenant=tenant)
    if membership is None and not user.is_superuser:
        return Actor(user=user, tenant=None)
    role = membership.role if membership else None
    group_ids = frozenset(user.groups.values_list("id", flat=True))
    return Actor(user=user, tenant=tenant, role=role, scopes=scopes, group_ids=group_ids)
