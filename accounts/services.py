from django.conf import settings
from django.db import transaction

from accounts.models import Membership, Role, Tenant, User


def ensure_default_tenant(*, using: str = "default") -> Tenant:
    tenant = Tenant.objects.using(using).filter(is_default=True).first()
    if tenant is None:
        tenant, _ = Tenant.objects.using(using).get_or_create(
            slug=settings.DEFAULT_TENANT_SLUG,
            defaults={"organization": "Default organization", "is_default": True},
        )
        if not tenant.is_default:
            tenant.is_default = True
            tenant.save(using=using, update_fields=["is_default"])
    return tenant


@transaction.atomic
def membership_set(*, user: User, tenant: Tenant, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    return membership


@transaction.atomic
def demo_superuser_ensure(*, username: str, password: str, email: str = "") -> tuple[User, bool]:
    """The `make run` administrator: a superuser and admin of the default tenant."""
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User.objects.create_superuser(username=username, email=email, password=password)
    membership_set(user=user, tenant=ensure_default_tenant(), role=Role.ADMIN)
    return user, created
