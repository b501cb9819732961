"""Writes. Keyword-only, atomic, and unaware of GraphQL: errors are ValidationErrors with codes."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import (
    CodedPermissionDenied,
    CodedValidationError,
    CommonErrorCode,
    not_found,
    require_scope,
)
from accounts.models import Tenant, TenantGroup, User
from accounts.validators import validate_name
from audit import services as audit
from config import metrics
from deployments import selectors as deployment_selectors
from deployments.errors import DeploymentErrorCode
from registry import selectors, signals, trash
from registry.catalog import kind_of
from registry.errors import RegistryErrorCode as Code
from registry.errors import file_too_large, version_immutable, version_trashed
from registry.models import (
    ACTIVE_UPLOAD_STATES,
    AccessLevel,
    AliasAction,
    ArtifactFile,
    CatalogEntry,
    Dataset,
    DatasetMetadata,
    DatasetVersion,
    DatasetVersionMetadata,
    MetadataKey,
    ModelAlias,
    ModelAliasEvent,
    ModelMetadata,
    ModelVersion,
    ModelVersionMetadata,
    RegisteredModel,
    Status,
    Tag,
    UploadSession,
    Version,
    VersionState,
    Visibility,
    VocabularyUsage,
)
from registry.storage.blobs import blob_for, blobs_release, stage_stream
from registry.storage.keys import guess_content_type
from registry.validators import (
    parse_semver,
    validate_choice,
    validate_container_image,
    validate_content_type,
    validate_file_path,
    validate_hardware,
    validate_item_count,
    validate_license,
    validate_metadata_entry,
    validate_metrics,
    validate_source_uri,
    validate_tag_name,
    validate_text,
)
from usage import services as usage_services
from webhooks import events as webhook_events

METADATA_TABLES = {
    RegisteredModel: ModelMetadata,
    Dataset: DatasetMetadata,
    ModelVersion: ModelVersionMetadata,
    DatasetVersion: DatasetVersionMetadata,
}


def require_creator(actor: Actor) -> None:
    require_scope(actor)
    if not actor.can_create:
        raise CodedPermissionDenied("Your role in this tenant may not create objects.")


# --- Vocabulary ----------------------------------------------------------------------------

def vocabulary_resolve(*, entry_class: type[Tag] | type[MetadataKey], actor: Actor,
                       names: Iterable[str]) -> list:
    """The tenant's entries for `names`; names nobody has used before become folk entries."""
    names = list(dict.fromkeys(names))
    existing = {e.name: e for e in entry_class.objects.filter(tenant=actor.tenant,
                                                              name__in=names)}
    missing = [name for name in names if name not in existing]
    if missing:
        entry_class.objects.bulk_create(
            [entry_class(tenant=actor.tenant, name=name, usage=VocabularyUsage.FOLK)
             for name in missing],
            ignore_conflicts=True,  # a concurrent request may create the same entry
        )
        existing.update({e.name: e for e in entry_class.objects.filter(tenant=actor.tenant,
                                                                       name__in=missing)})
    return [existing[name] for name in names]


@transaction.atomic
def default_vocabulary_entry_create(*, entry_class: type[Tag] | type[MetadataKey],
                                    actor: Actor, name: str, description: str = ""):
    _require_tenant_admin(actor)
    validate_tag_name(name)
    validate_text(description, "description", 500)
    entry, created = entry_class.objects.get_or_create(
        tenant=actor.tenant, name=name,
        defaults={"usage": VocabularyUsage.DEFAULT, "description": description},
    )
    if not created:
        entry.usage = VocabularyUsage.DEFAULT
        entry.description = description or entry.description
        entry.save(update_fields=["usage", "description"])
    return entry


@transaction.atomic
def vocabulary_entry_delete(*, entry_class: type[Tag] | type[MetadataKey], actor: Actor,
                            entry_id: int) -> None:
    _require_tenant_admin(actor)
    annotated = (selectors.tags_with_usage(actor) if entry_class is Tag
                 else selectors.metadata_keys_with_usage(actor))
    entry = annotated.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise not_found()
    if entry.usage_count:
        raise CodedValidationError(
            {"id": f"{entry.name!r} is used {entry.usage_count} times; remove it from those "
                   "objects first."},
            code=Code.TAG_IN_USE,
        )
    entry.delete()


def _require_tenant_admin(actor: Actor) -> None:
    require_scope(actor)
    if not actor.is_tenant_admin:
        raise CodedPermissionDenied("Only tenant admins may do this.")


# --- Catalog entries (models and datasets) -------------------------------------------------

@dataclass
class ListChanges:
    add: list = field(default_factory=list)
    remove: list = field(default_factory=list)


CATALOG_TEXT_FIELDS = ("project_name", "description", "readme", "author", "organization",
                       "category", "architecture", "framework", "license")


def _clean_catalog_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if "name" in fields:
        validate_name(fields["name"])
    if "status" in fields:
        validate_choice(fields["status"], Status, "status")
    if "visibility" in fields:
        validate_choice(fields["visibility"], Visibility, "visibility")
    if "license" in fields:
        validate_license(fields["license"])
    for name in CATALOG_TEXT_FIELDS:
        if name in fields:
            validate_text(fields[name], name, 100_000 if name in ("readme", "description")
                          else 200)
    return fields


@transaction.atomic
def catalog_entry_create(
    *,
    entry_class: type[CatalogEntry],
    actor: Actor,
    name: str,
    tags: list[str] = (),
    metadata: dict[str, str] | None = None,
    users: list[int] = (),
    datasets: list[int] = (),
    **fields: Any,
) -> CatalogEntry:
    require_creator(actor)
    _clean_catalog_fields({"name": name, **fields})
    if entry_class.objects.filter(tenant=actor.tenant, name=name).exists():
        raise _duplicate_name(name)
    entry = entry_class(tenant=actor.tenant, owner=actor.user, name=name, **fields)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as error:  # lost a race with a concurrent create
        raise _duplicate_name(name) from error
    _apply_relations(entry, actor, tags=ListChanges(add=list(tags)),
                     metadata=metadata or {}, users=ListChanges(add=list(users)),
                     datasets=ListChanges(add=list(datasets)))
    _refresh_search_vector(entry)
    webhook_events.catalog_entry_created(entry)
    audit.record(actor=actor, action="create", obj=entry, changes=audit.diff(
        {}, audit.snapshot(entry, ["name", *fields])))
    return entry


@transaction.atomic
def catalog_entry_update(
    *,
    entry_class: type[CatalogEntry],
    actor: Actor,
    entry_id: int,
    tags: ListChanges | None = None,
    metadata: dict[str, str | None] | None = None,
    users: ListChanges | None = None,
    datasets: ListChanges | None = None,
    **fields: Any,
) -> CatalogEntry:
    require_scope(actor)
    entry = catalog_entry_for_change(entry_class=entry_class, actor=actor, entry_id=entry_id)
    _clean_catalog_fields(fields)
    if "name" in fields and fields["name"] != entry.name and entry_class.objects.filter(
        tenant=actor.tenant, name=fields["name"]
    ).exists():
        raise _duplicate_name(fields["name"])
    # Sharing, and making an entry public or private, are decisions for those who manage it.
    sharing = (users and (users.add or users.remove)) or (
        "visibility" in fields and fields["visibility"] != entry.visibility)
    if sharing and not selectors.can_manage(actor, entry):
        raise not_found()
    before = {**audit.snapshot(entry, list(fields)),
              **_labels_snapshot(entry, tags=tags, metadata=metadata)}
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save()
    _apply_relations(entry, actor, tags=tags, metadata=metadata or {}, users=users,
                     datasets=datasets)
    _refresh_search_vector(entry)
    changes = audit.diff(before, {**audit.snapshot(entry, list(fields)),
                                  **_labels_snapshot(entry, tags=tags, metadata=metadata)})
    # A visibility change is a security event of its own, easy to filter for.
    if "visibility" in changes:
        audit.record(actor=actor, action="visibility", obj=entry,
                     changes={"visibility": changes.pop("visibility")})
    if changes:
        audit.record(actor=actor, action="update", obj=entry, changes=changes)
    return entry


@transaction.atomic
def catalog_entry_delete(*, entry_class: type[CatalogEntry], actor: Actor,
                         entry_id: int) -> None:
    require_scope(actor)
    entry = catalog_entry_for_manage(entry_class=entry_class, actor=actor, entry_id=entry_id)
    if entry.versions.filter(immutable=True).exists():
        raise version_immutable("id")
    if (isinstance(entry, RegisteredModel)
            and deployment_selectors.deployed_services_of(entry.versions.all()).exists()):
        raise _version_deployed("id")
    blob_ids = list(selectors.files_of_entry(entry).values_list("blob_id", flat=True))
    webhook_events.catalog_entry_deleted(entry)
    audit.record(actor=actor, action="delete", obj=entry)
    entry.delete()
    blobs_release(blob_ids)


def catalog_entry_for_change(*, entry_class: type[CatalogEntry], actor: Actor,
                             entry_id: int, field: str = "id") -> CatalogEntry:
    """The entry if the actor may change it, else NOT_FOUND on `field`: the same answer as
    for an id that does not exist."""
    entry = (selectors.catalog_visible_to(entry_class, actor)
             .select_for_update(of=("self",)).filter(pk=entry_id).first())
    if entry is None or not selectors.can_change(actor, entry):
        raise not_found(field)
    return entry


def catalog_entry_for_manage(*, entry_class: type[CatalogEntry], actor: Actor,
                             entry_id: int) -> CatalogEntry:
    """The entry if the actor may share and delete it, else NOT_FOUND."""
    entry = catalog_entry_for_change(entry_class=entry_class, actor=actor, entry_id=entry_id)
    if not selectors.can_manage(actor, entry):
        raise not_found()
    return entry


def _duplicate_name(name: str) -> CodedValidationError:
    return CodedValidationError({"name": f"{name!r} already exists in this tenant."},
                           code=CommonErrorCode.DUPLICATE_NAME)


def _labels_snapshot(owner, *, tags: ListChanges | None = None,
                     metadata: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The tags and metadata an update touches, as the audit trail diffs them."""
    labels: dict[str, Any] = {}
    if tags:
        labels["tags"] = sorted(owner.tags.values_list("name", flat=True))
    if metadata:
        labels["metadata"] = dict(owner.metadata.values_list("key__name", "value"))
    return labels


def _apply_relations(entry: CatalogEntry, actor: Actor, *, tags: ListChanges | None,
                     metadata: dict[str, str | None], users: ListChanges | None,
                     datasets: ListChanges | None) -> None:
    if tags:
        for name in [*tags.add, *tags.remove]:
            validate_tag_name(name)
        validate_item_count(tags.add, "tags")
        entry.tags.add(*vocabulary_resolve(entry_class=Tag, actor=actor, names=tags.add))
        entry.tags.remove(*Tag.objects.filter(tenant=actor.tenant, name__in=tags.remove))
        validate_item_count(entry.tags.values_list("pk", flat=True), "tags")
    metadata_set(owner=entry, actor=actor, metadata=metadata)
    if users:
        _share_with_users(entry, actor, users)
    if datasets and isinstance(entry, RegisteredModel):
        visible = selectors.datasets_visible_to(actor)
        to_add = list(visible.filter(pk__in=datasets.add))
        if len(to_add) != len(set(datasets.add)):
            raise not_found("datasets")
        entry.datasets.add(*to_add)
        entry.datasets.remove(*datasets.remove)


def metadata_set(*, owner, actor: Actor, metadata: dict[str, str | None]) -> None:
    """Set name=value pairs on `owner`; a value of None removes the name."""
    if not metadata:
        return
    validate_item_count(metadata, "metadata")
    for name, value in metadata.items():
        validate_metadata_entry(name, value or "")
    table = METADATA_TABLES[type(owner)]
    to_set = {name: value for name, value in metadata.items() if value is not None}
    keys = vocabulary_resolve(entry_class=MetadataKey, actor=actor, names=to_set)
    for key in keys:
        table.objects.update_or_create(owner=owner, key=key, defaults={"value": to_set[key.name]})
    removed = [name for name, value in metadata.items() if value is None]
    if removed:
        table.objects.filter(owner=owner, key__name__in=removed).delete()


def _share_with_users(entry: CatalogEntry, actor: Actor, users: ListChanges) -> None:
    """The `users {add, remove}` shorthand: share and withdraw `view`."""
    _grants_remove(entry, user_ids=users.remove, group_ids=(), level=AccessLevel.VIEW)
    _grants_add(entry, user_ids=users.add, group_ids=(), level=AccessLevel.VIEW)


# --- Sharing -------------------------------------------------------------------------------

@transaction.atomic
def catalog_entry_share(*, entry_class: type[CatalogEntry], actor: Actor, entry_id: int,
                        level: str, user_ids: Iterable[int] = (),
                        group_ids: Iterable[int] = ()) -> CatalogEntry:
    """Grant `level` (and the levels below it) to users and groups of the entry's tenant."""
    require_scope(actor)
    entry = catalog_entry_for_manage(entry_class=entry_class, actor=actor, entry_id=entry_id)
    user_ids, group_ids = list(user_ids), list(group_ids)  # read twice: grants and trail
    _grants_add(entry, user_ids=user_ids, group_ids=group_ids,
                level=validate_choice(level, AccessLevel, "permission"))
    audit.record(actor=actor, action="share", obj=entry, changes={
        "level": [None, level], "users": [None, sorted(user_ids)],
        "groups": [None, sorted(group_ids)]})
    return entry


@transaction.atomic
def catalog_entry_unshare(*, entry_class: type[CatalogEntry], actor: Actor, entry_id: int,
                          level: str, user_ids: Iterable[int] = (),
                          group_ids: Iterable[int] = ()) -> CatalogEntry:
    """Withdraw `level` and every level above it: withdrawing `view` withdraws all access."""
    require_scope(actor)
    entry = catalog_entry_for_manage(entry_class=entry_class, actor=actor, entry_id=entry_id)
    user_ids, group_ids = list(user_ids), list(group_ids)  # read twice: grants and trail
    _grants_remove(entry, user_ids=user_ids, group_ids=group_ids,
                   level=validate_choice(level, AccessLevel, "permission"))
    audit.record(actor=actor, action="unshare", obj=entry, changes={
        "level": [None, level], "users": [None, sorted(user_ids)],
        "groups": [None, sorted(group_ids)]})
    return entry


def _grantees(entry: CatalogEntry, user_ids: Iterable[int],
              group_ids: Iterable[int]) -> tuple[list[int], list[int]]:
    """Validated user ids and auth group ids; any that is not of the entry's tenant makes
    the whole call NOT_FOUND, before anything is written."""
    user_ids, group_ids = set(user_ids), set(group_ids)
    validate_item_count(user_ids, "users")
    validate_item_count(group_ids, "groups")
    users = list(User.objects.filter(pk__in=user_ids, memberships__tenant=entry.tenant_id)
                 .values_list("pk", flat=True))
    if len(users) != len(user_ids):
        raise not_found("users")
    groups = list(TenantGroup.objects.filter(pk__in=group_ids, tenant=entry.tenant_id)
                  .values_list("group_id", flat=True))
    if len(groups) != len(group_ids):
        raise not_found("groups")
    return users, groups


def _permissions(entry: CatalogEntry, codenames: list[str]) -> list[Permission]:
    return list(Permission.objects.filter(
        content_type=ContentType.objects.get_for_model(entry), codename__in=codenames))


def _grants_add(entry: CatalogEntry, *, user_ids: Iterable[int], group_ids: Iterable[int],
                level: str) -> None:
    users, groups = _grantees(entry, user_ids, group_ids)
    if not users and not groups:
        return
    kind = kind_of(entry)
    user_table, group_table = kind.user_permissions, kind.group_permissions
    permissions = _permissions(entry, kind.grant_codenames(level))
    # Rows already there stay as they are (the unique constraint makes a grant idempotent).
    user_table.objects.bulk_create(
        [user_table(user_id=user_id, permission=permission, content_object=entry)
         for user_id in users for permission in permissions], ignore_conflicts=True)
    group_table.objects.bulk_create(
        [group_table(group_id=group_id, permission=permission, content_object=entry)
         for group_id in groups for permission in permissions], ignore_conflicts=True)


def _grants_remove(entry: CatalogEntry, *, user_ids: Iterable[int], group_ids: Iterable[int],
                   level: str) -> None:
    users, groups = _grantees(entry, user_ids, group_ids)
    if not users and not groups:
        return
    kind = kind_of(entry)
    user_table, group_table = kind.user_permissions, kind.group_permissions
    permissions = _permissions(entry, kind.access_codenames(level))
    user_table.objects.filter(content_object=entry, user_id__in=users,
                              permission__in=permissions).delete()
    group_table.objects.filter(content_object=entry, group_id__in=groups,
                               permission__in=permissions).delete()


def _refresh_search_vector(entry: CatalogEntry) -> None:
    if connection.vendor != "postgresql":
        return
    type(entry).objects.filter(pk=entry.pk).update(
        search_vector=SearchVector("name", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector("readme", weight="C", config="english")
    )


# --- Versions ------------------------------------------------------------------------------

@transaction.atomic
def version_create(
    *,
    version_class: type[Version],
    actor: Actor,
    parent_id: int,
    version: str,
    description: str = "",
    source_uri: str = "",
    metrics: dict | None = None,
    metadata: dict[str, str] | None = None,
    dataset_version_ids: list[int] = (),
    **fields: Any,
) -> Version:
    require_scope(actor)
    kind = kind_of(version_class)
    parent = catalog_entry_for_change(entry_class=kind.entry_class, actor=actor,
                                      entry_id=parent_id)
    major, minor, patch, prerelease = parse_semver(version)
    fields = _clean_version_fields({"description": description, "source_uri": source_uri,
                                    "metrics": metrics or {}, **fields})
    if selectors.untrashed(version_class.objects.filter(
            **{kind.parent_field: parent, "version": version})).exists():
        raise duplicate_version(version)
    instance = version_class.objects.create(
        **{kind.parent_field: parent}, version=version, version_major=major,
        version_minor=minor, version_patch=patch, version_prerelease=prerelease,
        created_by=actor.user, **fields,
    )
    metadata_set(owner=instance, actor=actor, metadata=metadata or {})
    if dataset_version_ids:
        _lineage_apply(instance, actor, ListChanges(add=list(dataset_version_ids)))
    latest_version_refresh(parent)
    webhook_events.version_created(instance)
    audit.record(actor=actor, action="create", obj=instance, changes=audit.diff(
        {}, audit.snapshot(instance, ["version", *fields])))
    return instance


def _clean_version_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The given fields of a version, validated (container images normalised)."""
    if "description" in fields:
        validate_text(fields["description"], "description")
    if "source_uri" in fields:
        validate_source_uri(fields["source_uri"])
    if "metrics" in fields:
        validate_metrics(fields["metrics"])
    if "state" in fields:
        validate_choice(fields["state"], VersionState, "state")
    if "precision" in fields:
        validate_text(fields["precision"], "precision", 16)
    if "hardware" in fields:
        validate_hardware(fields["hardware"])
    if "container_images" in fields:
        validate_item_count(fields["container_images"], "containerImages")
        fields["container_images"] = [validate_container_image(image)
                                      for image in fields["container_images"]]
    if "checkpoints" in fields:
        validate_item_count(fields["checkpoints"], "checkpoints")
        for checkpoint in fields["checkpoints"]:
            validate_source_uri(checkpoint)
    return fields


def _lineage_apply(version: Version, actor: Actor, changes: ListChanges | None) -> None:
    """Link a model version to dataset versions the actor sees (any other is NOT_FOUND, as
    if it did not exist), and unlink others; unlinking one that is not linked is a no-op."""
    if changes is None:
        return
    validate_item_count(changes.add, "datasetVersions")
    if changes.add:
        linked = list(selectors.dataset_versions_visible_to(actor).filter(pk__in=changes.add))
        if len(linked) != len(set(changes.add)):
            raise not_found("datasetVersions")
        version.dataset_versions.add(*linked)
    if changes.remove:
        version.dataset_versions.remove(*changes.remove)


def latest_version_refresh(parent: CatalogEntry) -> None:
    """Point `parent.latest_version` at its newest version by semantic precedence; a
    trashed version is never the newest."""
    parent.latest_version = (selectors.untrashed(parent.versions.all())
                             .order_by(*Version.SEMVER_ORDER).first())
    parent.save(update_fields=["latest_version", "updated_at"])


def version_get(*, actor: Actor, version_class: type[Version], version_id: int,
                field: str = "versionId") -> Version:
    version = (selectors.versions_visible_to(actor, kind_of(version_class))
               .filter(pk=version_id).first())
    if version is None:
        raise not_found(field)
    return version


def version_for_change(*, actor: Actor, version: Version) -> Version:
    """`version` if the actor may change its model or dataset, else NOT_FOUND on
    `versionId`, as `version_get` answers for a version that does not exist."""
    version_parent_for(actor=actor, version=version)
    return version


def version_parent_for(*, actor: Actor, version: Version, manage: bool = False,
                       field: str = "versionId") -> CatalogEntry:
    """The version's model or dataset, locked, if the actor may change it (or, with
    `manage`, delete it), else NOT_FOUND on `field`; a trashed version is refused with
    VERSION_TRASHED (restore it first)."""
    kind = kind_of(version)
    parent = catalog_entry_for_change(entry_class=kind.entry_class, actor=actor,
                                      entry_id=getattr(version, f"{kind.parent_field}_id"),
                                      field=field)
    if manage and not selectors.can_manage(actor, parent):
        raise not_found(field)
    _refuse_if_gone_or_trashed(version, field)
    return parent


def _refuse_if_gone_or_trashed(version: Version, field: str) -> None:
    # Read again under the parent's lock: a concurrent deletion or trash may have come first.
    trashed = type(version).objects.filter(pk=version.pk).values_list("trashed_at", flat=True)
    if not trashed:
        raise not_found(field)
    if trashed[0] is not None:
        raise version_trashed(field)


def _refuse_if_immutable(version: Version, field: str) -> None:
    # Read again under the parent's lock: the caller's row may predate a freeze.
    if type(version).objects.filter(pk=version.pk, immutable=True).exists():
        raise version_immutable(field)


@transaction.atomic
def version_update(*, actor: Actor, version: Version,
                   metadata: dict[str, str | None] | None = None,
                   dataset_versions: ListChanges | None = None, field: str = "versionId",
                   **fields: Any) -> Version:
    """Change what a maintainer may edit after creation: the descriptive fields, state,
    metadata and (of model versions) lineage. The version string stays as created, and the
    files' bytes, hashes and scan status are the upload and scanning services' alone."""
    require_scope(actor)
    version_parent_for(actor=actor, version=version, field=field)
    fields = _clean_version_fields(fields)
    if set(fields) - {"state"} or metadata or dataset_versions:
        _refuse_if_immutable(version, field)
    before = {**audit.snapshot(version, list(fields)),
              **_labels_snapshot(version, metadata=metadata)}
    for name, value in fields.items():
        setattr(version, name, value)
    # Only the given fields: the row was read before the parent was locked.
    version.save(update_fields=[*fields, "updated_at"])
    metadata_set(owner=version, actor=actor, metadata=metadata or {})
    _lineage_apply(version, actor, dataset_versions)
    changes = audit.diff(before, {**audit.snapshot(version, list(fields)),
                                  **_labels_snapshot(version, metadata=metadata)})
    if changes:
        audit.record(actor=actor, action="state" if set(changes) == {"state"} else "update",
                     obj=version, changes=changes)
    return version


def version_state_set(*, actor: Actor, version: Version, state: str) -> Version:
    return version_update(actor=actor, version=version, state=state)


def version_removal_check(*, actor: Actor | None, version: Version, field: str = "versionId",
                          system: str | None = None) -> CatalogEntry:
    """The version's model or dataset, locked, if the version may be removed (trashed or
    deleted), else the refusal. Those who manage the parent may (a `system` job is not
    asked); never an immutable or trashed version. Refused while an alias names the
    version: what `production` then points at is a decision for whoever moves the alias;
    and while a DEPLOYED inference service serves it."""
    if system:
        kind = kind_of(version)
        parent = (kind.entry_class.objects.select_for_update()
                  .filter(pk=getattr(version, f"{kind.parent_field}_id")).first())
        if parent is None:
            raise not_found(field)
        _refuse_if_gone_or_trashed(version, field)
    else:
        require_scope(actor)
        parent = version_parent_for(actor=actor, version=version, manage=True, field=field)
    _refuse_if_immutable(version, field)
    if isinstance(version, ModelVersion):
        aliases = sorted(version.aliases.values_list("name", flat=True))
        if aliases:
            raise CodedValidationError(
                {field: f"Aliases {', '.join(aliases)} point at this version; move or "
                        "remove them first."},
                code=Code.VERSION_ALIASED,
            )
        if deployment_selectors.version_is_deployed(version):
            raise _version_deployed(field)
    return parent


@transaction.atomic
def version_delete(*, actor: Actor, version: Version, field: str = "versionId") -> None:
    """Remove a version (see `version_removal_check`): to the trash when the tenant keeps
    one, else at once with its files, metadata, lineage links and uploads in progress, and
    the stored bytes no other file shares (its UNDEPLOYED inference services go with it)."""
    if actor.tenant is not None and actor.tenant.trash_enabled:
        trash.version_trash(actor=actor, version=version, reason="Deleted", field=field)
        return
    parent = version_removal_check(actor=actor, version=version, field=field)
    blob_ids = list(version.files.values_list("blob_id", flat=True))
    webhook_events.version_deleted(version)
    audit.record(actor=actor, action="delete", obj=version)
    version.delete()
    blobs_release(blob_ids)
    latest_version_refresh(parent)


def _version_deployed(field: str) -> CodedValidationError:
    return CodedValidationError(
        {field: "A DEPLOYED inference service serves this version; undeploy it first."},
        code=DeploymentErrorCode.VERSION_DEPLOYED)


# --- Aliases -------------------------------------------------------------------------------

def _alias_for_move(*, actor: Actor, model: RegisteredModel, alias: str) -> ModelAlias | None:
    """The alias, locked, if it exists; refused when protected and the actor does not
    manage the model (owners, tenant admins, holders of `manage`)."""
    model_alias = ModelAlias.objects.select_for_update().filter(model=model, name=alias).first()
    if model_alias is not None and model_alias.protected and not selectors.can_manage(actor,
                                                                                      model):
        raise CodedPermissionDenied(
            f"The alias {alias!r} is protected; only those who manage the model move it.",
            code=Code.ALIAS_PROTECTED,
        )
    return model_alias


@transaction.atomic
def model_alias_set(*, actor: Actor, model_id: int, alias: str,
                    version_id: int) -> ModelAlias:
    """Point `alias` at a version of the model, and keep the move in its history (setting
    it to the version it already names is no move and records nothing)."""
    require_scope(actor)
    model = catalog_entry_for_change(entry_class=RegisteredModel, actor=actor,
                                     entry_id=model_id)
    validate_name(alias, "alias")
    version = ModelVersion.objects.filter(pk=version_id, model__tenant=actor.tenant).first()
    if version is None:
        raise not_found("versionId")
    if version.model_id != model.pk:
        raise CodedValidationError({"versionId": "The version belongs to another model."},
                              code=Code.ALIAS_VERSION_MISMATCH)
    if version.trashed_at is not None:
        raise version_trashed()
    model_alias = _alias_for_move(actor=actor, model=model, alias=alias)
    previous_id = None if model_alias is None else model_alias.version_id
    if model_alias is None:
        model_alias = ModelAlias.objects.create(model=model, name=alias, version=version)
        _alias_event(actor, model, alias, AliasAction.SET, version=version)
    elif previous_id != version.pk:
        model_alias.version = version
        model_alias.save(update_fields=["version", "updated_at"])
        _alias_event(actor, model, alias, AliasAction.MOVED, version=version,
                     previous_version_id=previous_id)
    webhook_events.model_alias_set(model_alias)
    if previous_id != version.pk:
        audit.record(actor=actor, action="alias.move" if previous_id else "alias.set",
                     obj=model_alias, object_name=alias,
                     changes={"version": [previous_id, version.pk]})
    return model_alias


@transaction.atomic
def model_alias_remove(*, actor: Actor, model_id: int, alias: str) -> RegisteredModel:
    require_scope(actor)
    model = catalog_entry_for_change(entry_class=RegisteredModel, actor=actor,
                                     entry_id=model_id)
    model_alias = _alias_for_move(actor=actor, model=model, alias=alias)
    if model_alias is None:
        raise not_found("alias")
    model_alias.delete()
    _alias_event(actor, model, alias, AliasAction.REMOVED,
                 previous_version_id=model_alias.version_id)
    webhook_events.model_alias_removed(model, alias)
    audit.record(actor=actor, action="alias.remove", obj=model, object_kind="ModelAlias",
                 object_name=alias)
    return model


def _alias_event(actor: Actor, model: RegisteredModel, alias: str, action: str, *,
                 version: ModelVersion | None = None,
                 previous_version_id: int | None = None) -> None:
    ModelAliasEvent.objects.create(model=model, alias=alias, action=action, version=version,
                                   previous_version_id=previous_version_id, actor=actor.user)


@transaction.atomic
def model_alias_protect(*, actor: Actor, model_id: int, alias: str,
                        protected: bool) -> ModelAlias:
    """Protect or unprotect an alias; only those who manage the model may (others get
    NOT_FOUND, as for a model they may not delete)."""
    require_scope(actor)
    model = catalog_entry_for_manage(entry_class=RegisteredModel, actor=actor,
                                     entry_id=model_id)
    model_alias = ModelAlias.objects.select_for_update().filter(model=model, name=alias).first()
    if model_alias is None:
        raise not_found("alias")
    if model_alias.protected != protected:
        audit.record(actor=actor, action="alias.protect", obj=model_alias, object_name=alias,
                     changes={"protected": [model_alias.protected, protected]})
    model_alias.protected = protected
    model_alias.save(update_fields=["protected", "updated_at"])
    return model_alias


@transaction.atomic
def version_immutable_set(*, actor: Actor, version: Version, immutable: bool,
                          field: str = "versionId") -> Version:
    """Freeze a version (those who manage its model or dataset may), or thaw it (tenant
    admins only: a frozen version is a promise others rely on)."""
    require_scope(actor)
    version_parent_for(actor=actor, version=version, manage=True, field=field)
    if not immutable:
        _require_tenant_admin(actor)
    if version.immutable != immutable:
        audit.record(actor=actor, action="immutable", obj=version,
                     changes={"immutable": [version.immutable, immutable]})
    version.immutable = immutable
    version.save(update_fields=["immutable", "updated_at"])
    return version


# --- Files ---------------------------------------------------------------------------------

def file_add(*, actor: Actor, version: Version, path: str, stream: BinaryIO,
             declared_size: int, content_type: str = "") -> ArtifactFile:
    """Store `stream` as `path` of `version`; the file stays quarantined until scanned.

    Not one transaction: the bytes are staged (hashed, size-limited) outside any, so a long
    upload holds no database lock; the blob and the file are then created in one short
    transaction, and a failure anywhere leaves neither a row nor an object.
    """
    with transaction.atomic():  # refuse early, before any byte is stored
        file_add_check(actor=actor, version=version, path=path, size=declared_size)
        validate_content_type(content_type)
    staged = stage_stream(tenant=actor.tenant, stream=stream)
    with blob_for(tenant=actor.tenant, staged=staged) as blob:
        return file_create_from_blob(actor=actor, version=version, path=path, blob=blob,
                                     content_type=content_type)


def file_add_check(*, actor: Actor, version: Version, path: str, size: int,
                   upload_session_id: int | None = None) -> None:
    """What refuses a new file: rights on the version, the path, a duplicate, size and quota."""
    require_scope(actor)
    version_for_change(actor=actor, version=version)
    _refuse_if_immutable(version, "versionId")
    validate_file_path(path)
    version_field = kind_of(version).version_field
    if selectors.untrashed(ArtifactFile.objects.filter(
            **{version_field: version, "path": path})).exists():
        raise duplicate_path(path)
    quota_check(tenant=actor.tenant, incoming_bytes=size,
                exclude_session_id=upload_session_id)


def quota_check(*, tenant: Tenant, incoming_bytes: int, incoming_files: int = 1,
                exclude_session_id: int | None = None) -> None:
    """Refuse what would exceed the largest file size or the tenant's quota.

    Open resumable uploads hold their declared size and one file of the quota until they
    complete or expire, so parallel sessions cannot overcommit it.
    """
    if incoming_bytes > settings.REGISTRY_MAX_FILE_SIZE:
        raise file_too_large()
    stored = ArtifactFile.objects.filter(tenant=tenant).aggregate(files=Count("pk"),
                                                                   bytes=Sum("size"))
    reserved = (UploadSession.objects
                .filter(tenant=tenant, state__in=ACTIVE_UPLOAD_STATES,
                        expires_at__gt=timezone.now())
                .exclude(pk=exclude_session_id)
                .aggregate(files=Count("pk"), bytes=Sum("size")))
    total_bytes = (stored["bytes"] or 0) + (reserved["bytes"] or 0) + incoming_bytes
    total_files = stored["files"] + reserved["files"] + incoming_files
    if total_bytes > tenant.quota_bytes or total_files > tenant.quota_files:
        raise CodedValidationError(
            {"file": f"The tenant's quota of {tenant.quota_bytes} bytes and "
                     f"{tenant.quota_files} files would be exceeded."},
            code=Code.QUOTA_EXCEEDED,
        )


def duplicate_version(version: str, field: str = "version") -> CodedValidationError:
    return CodedValidationError({field: f"{version!r} already exists."},
                                code=Code.DUPLICATE_VERSION)


def duplicate_path(path: str, field: str = "path") -> CodedValidationError:
    return CodedValidationError({field: f"{path!r} already exists in this version."},
                                code=Code.DUPLICATE_PATH)


@transaction.atomic
def file_create_from_blob(*, actor: Actor, version: Version, path: str, blob,
                          content_type: str = "",
                          upload_session_id: int | None = None) -> ArtifactFile:
    """The file row for bytes already stored as `blob`: the one path of uploadFile and of
    completed resumable uploads. Checks everything again, as the upload took time."""
    # Quota checks of one tenant run one at a time, so parallel uploads cannot overcommit.
    Tenant.objects.select_for_update().filter(pk=actor.tenant.pk).first()
    file_add_check(actor=actor, version=version, path=path, size=blob.size,
                   upload_session_id=upload_session_id)
    version_field = kind_of(version).version_field
    try:
        with transaction.atomic():
            artifact = ArtifactFile.objects.create(
                tenant=actor.tenant, **{version_field: version}, path=path, blob=blob,
                size=blob.size, sha256=blob.sha256,
                content_type=content_type or guess_content_type(path),
                uploaded_by=actor.user,
            )
    except IntegrityError as error:  # a concurrent upload took the path
        raise duplicate_path(path) from error
    file_created_hook(actor, artifact)
    audit.record(actor=actor, action="create", obj=artifact, object_name=path, changes={
        "path": [None, path], "sha256": [None, blob.sha256], "size": [None, blob.size]})
    return artifact


def file_created_hook(actor: Actor, artifact: ArtifactFile) -> None:
    # The scanning app listens and queues the scan once the row is committed; the
    # registry itself knows nothing of scanners.
    usage_services.push_record(actor=actor, artifact=artifact)
    signals.file_created.send(sender=ArtifactFile, file=artifact)
    transaction.on_commit(lambda: metrics.record_transfer(
        metrics.PUSHES, metrics.PUSHED_BYTES, tenant=artifact.tenant.slug, size=artifact.size))


def file_removal_check(*, actor: Actor | None, artifact: ArtifactFile,
                       system: str | None = None) -> None:
    """Refuse removing (trashing or deleting) a file unless the actor manages its version's
    model or dataset (a `system` job is not asked), the version is neither immutable nor
    trashed, and the file is not trashed already."""
    version = artifact.version
    if system:
        _refuse_if_gone_or_trashed(version, "id")
    else:
        require_scope(actor)
        version_parent_for(actor=actor, version=version, manage=True, field="id")
    _refuse_if_immutable(version, "id")
    if ArtifactFile.objects.filter(pk=artifact.pk, trashed_at__isnull=True).count() != 1:
        raise not_found()


@transaction.atomic
def file_delete(*, actor: Actor, file_id: int) -> None:
    """Remove a file of a version the actor may delete: to the trash when the tenant keeps
    one, else at once; its blob goes once no other file (of this or another version with
    the same bytes) refers to it."""
    require_scope(actor)
    artifact = selectors.files_visible_to(actor).filter(pk=file_id).first()
    if artifact is None:
        raise not_found()
    if actor.tenant.trash_enabled:
        trash.file_trash(actor=actor, artifact=artifact, reason="Deleted")
        return
    file_removal_check(actor=actor, artifact=artifact)
    audit.record(actor=actor, action="delete", obj=artifact, object_name=artifact.path)
    artifact.delete()
    blobs_release([artifact.blob_id])
