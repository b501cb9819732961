"""Reads of the audit trail. Tenant admins (with credentials that may administer) see all of
their tenant's entries; the superuser sees every tenant's; other members see only the entries
about models and datasets they may see (and those objects' versions, files and aliases),
never the tenant's security events. Anonymous callers see nothing."""

from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.actor import Actor
from accounts.models import TokenScope
from audit.models import AuditEntry
from registry import selectors as registry_selectors
from registry.models import Dataset, RegisteredModel


def entries_visible_to(actor: Actor) -> QuerySet[AuditEntry]:
    administers = actor.has_scope(TokenScope.ADMIN)
    if actor.is_superuser and administers:
        return AuditEntry.objects.all()
    if actor.user is None or actor.tenant is None:
        return AuditEntry.objects.none()
    entries = AuditEntry.objects.filter(tenant=actor.tenant)
    if actor.is_tenant_admin and administers:
        return entries
    visible = Q(pk__in=[])
    for entry_class in (RegisteredModel, Dataset):
        visible |= Q(catalog_kind=entry_class.__name__, catalog_id__in=(
            registry_selectors.catalog_visible_to(entry_class, actor).values("pk")))
    return entries.filter(visible)


def entries_filtered(actor: Actor, *, object_kind: str | None = None,
                     object_id: str | None = None, actor_name: str | None = None,
                     action: str | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> QuerySet[AuditEntry]:
    """The visible entries matching every filter given, newest first."""
    entries = entries_visible_to(actor)
    filters = {"object_kind": object_kind, "object_id": object_id, "actor_name": actor_name,
               "action": action, "created_at__gte": since, "created_at__lt": until}
    return entries.filter(**{name: value for name, value in filters.items()
                             if value is not None}).order_by("-created_at", "-pk")
