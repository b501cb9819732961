"""One tenant resolution path for GraphQL, downloads, uploads and the admin."""

from django.http import HttpRequest

from accounts.actor import Actor
from accounts.models import Tenant
from accounts.selectors import actor_for, default_tenant

TENANT_HEADER = "HTTP_X_REGISTRY_TENANT"


def actor_from_request(request: HttpRequest) -> Actor:
    """The caller of `request`, cached on it so every layer sees the same actor."""
    cached = getattr(request, "_registry_actor", None)
    if cached is None:
        cached = request._registry_actor = _resolve(request)
    return cached


def _resolve(request: HttpRequest) -> Actor:
    user = getattr(request, "user", None)
    user = user if user is not None and user.is_authenticated else None
    slug = request.META.get(TENANT_HEADER) or request.session.get("tenant_slug")
    tenant = Tenant.objects.filter(slug=slug).first() if slug else default_tenant()
    if tenant is None:
        # An unknown tenant: the caller sees nothing and learns nothing.
        return Actor(user=user, tenant=None)
    if user is None:
        return anonymous_actor(tenant)
    return actor_for(user=user, tenant=tenant)


def anonymous_actor(tenant: Tenant) -> Actor:
    return Actor(user=None, tenant=tenant if tenant.allow_anonymous_read else None)
