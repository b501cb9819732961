"""Writing the audit trail: `record` is the one entry point; call it inside the service's
transaction, after the change, so the entry exists exactly when the change does."""

from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Tenant, User
from audit.models import ActorKind, AuditEntry
from registry.models import ArtifactFile, CatalogEntry, DatasetVersion, ModelAlias, ModelVersion


def _catalog_entry_of(obj: models.Model | None) -> CatalogEntry | None:
    """The model or dataset whose visibility an entry about `obj` follows."""
    if isinstance(obj, CatalogEntry):
        return obj
    if isinstance(obj, ModelVersion):
        return obj.model
    if isinstance(obj, DatasetVersion):
        return obj.dataset
    if isinstance(obj, ArtifactFile):
        return _catalog_entry_of(obj.model_version or obj.dataset_version)
    if isinstance(obj, ModelAlias):
        return obj.model
    # Records about a model version (an inference service): its model's visibility.
    if isinstance(getattr(obj, "model_version", None), ModelVersion):
        return obj.model_version.model
    return None


def _tenant_of(obj: models.Model | None) -> Tenant | None:
    if isinstance(obj, Tenant):
        return obj
    entry = _catalog_entry_of(obj)
    if entry is not None:
        return entry.tenant
    return getattr(obj, "tenant", None)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the fields whose value changed."""
    return {name: [before.get(name), after.get(name)]
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)}


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The JSON-safe values of `fields`, for `diff`."""
    return {name: _json_value(getattr(obj, name)) for name in fields}


def _json_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def record(*, action: str, actor: Actor | None = None, obj: models.Model | None = None,
           changes: dict[str, list[Any]] | None = None, tenant: Tenant | None = None,
           user: User | None = None, system: str = "", object_kind: str = "",
           object_id: str | int = "", object_name: str = "") -> AuditEntry:
    """Append one entry. The actor is an `Actor` (a request), or `user` (a login), or
    `system` (the name of a job); request id and client address come from the structlog
    context django-structlog binds per request (and carries into the tasks it queued)."""
    context = structlog.contextvars.get_contextvars()
    tenant = tenant or _tenant_of(obj) or (actor.tenant if actor else None)
    user = user or (actor.user if actor else None)
    if system:
        kind, name = ActorKind.SYSTEM, system
    elif actor is not None and actor.scopes is not None:
        kind, name = ActorKind.TOKEN, str(context.get("token") or (user and user.username))
    elif user is not None:
        kind, name = ActorKind.USER, user.username
    else:
        kind, name = ActorKind.ANONYMOUS, ""
    entry = _catalog_entry_of(obj)
    return AuditEntry.objects.create(
        tenant=tenant, tenant_slug=tenant.slug if tenant else "",
        actor_kind=kind, actor_user=user, actor_name=name[:200], action=action,
        object_kind=object_kind or (type(obj).__name__ if obj is not None else ""),
        object_id=str(object_id or (obj.pk if obj is not None else "")),
        object_name=(object_name or (str(obj) if obj is not None else ""))[:300],
        catalog_kind=type(entry).__name__ if entry else "",
        catalog_id=entry.pk if entry else None,
        changes=changes or {},
        request_id=str(context.get("request_id") or "")[:128],
        client_address=context.get("ip") or None,
    )


def retention_purge() -> int:
    """Delete the entries older than AUDIT_RETENTION_DAYS; the only way entries leave."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _ = AuditEntry.objects.filter(created_at__lt=cutoff).delete()
    return deleted
