"""Writes. Keyword-only, atomic, and unaware of GraphQL: errors are ValidationErrors with codes."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, connection, transaction

from accounts.actor import Actor
from accounts.models import Tenant, TenantGroup, User
from registry import selectors, signals, storage
from registry.errors import CodedPermissionDenied, CodedValidationError
from registry.errors import RegistryErrorCode as Code
from registry.models import (
    AccessLevel,
    ArtifactFile,
    CatalogEntry,
    Dataset,
    DatasetMetadata,
    DatasetVersion,
    DatasetVersionMetadata,
    MetadataKey,
    ModelAlias,
    ModelMetadata,
    ModelVersion,
    ModelVersionMetadata,
    RegisteredModel,
    Status,
    Tag,
    Version,
    VersionState,
    Visibility,
    VocabularyUsage,
)
from registry.validators import (
    parse_semver,
    validate_choice,
    validate_container_image,
    validate_file_path,
    validate_hardware,
    validate_item_count,
    validate_license,
    validate_metadata_entry,
    validate_metrics,
    validate_name,
    validate_source_uri,
    validate_tag_name,
    validate_text,
)

METADATA_TABLES = {
    RegisteredModel: ModelMetadata,
    Dataset: DatasetMetadata,
    ModelVersion: ModelVersionMetadata,
    DatasetVersion: DatasetVersionMetadata,
}


def not_found(field_name: str = "id") -> CodedValidationError:
    # Forbidden and missing look the same, so nothing leaks across visibility or tenants.
    return CodedValidationError({field_name: "Not found."}, code=Code.NOT_FOUND)


def require_scope(actor: Actor, scope: str = "write") -> None:
    if not actor.has_scope(scope):
        raise CodedPermissionDenied("This token's scopes do not allow changes.",
                                    code=Code.READ_ONLY_TOKEN)


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
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save()
    _apply_relations(entry, actor, tags=tags, metadata=metadata or {}, users=users,
                     datasets=datasets)
    _refresh_search_vector(entry)
    return entry


@transaction.atomic
def catalog_entry_delete(*, entry_class: type[CatalogEntry], actor: Actor,
                         entry_id: int) -> None:
    require_scope(actor)
    entry = catalog_entry_for_manage(entry_class=entry_class, actor=actor, entry_id=entry_id)
    blob_ids = list(selectors.files_of_entry(entry).values_list("blob_id", flat=True))
    entry.delete()
    storage.blobs_release(blob_ids)


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


def _version_field(entry_class: type[CatalogEntry]) -> str:
    return "model_version" if entry_class is RegisteredModel else "dataset_version"


def _duplicate_name(name: str) -> CodedValidationError:
    return CodedValidationError({"name": f"{name!r} already exists in this tenant."},
                           code=Code.DUPLICATE_NAME)


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
    _grants_add(entry, user_ids=user_ids, group_ids=group_ids,
                level=validate_choice(level, AccessLevel, "permission"))
    return entry


@transaction.atomic
def catalog_entry_unshare(*, entry_class: type[CatalogEntry], actor: Actor, entry_id: int,
                          level: str, user_ids: Iterable[int] = (),
                          group_ids: Iterable[int] = ()) -> CatalogEntry:
    """Withdraw `level` and every level above it: withdrawing `view` withdraws all access."""
    require_scope(actor)
    entry = catalog_entry_for_manage(entry_class=entry_class, actor=actor, entry_id=entry_id)
    _grants_remove(entry, user_ids=user_ids, group_ids=group_ids,
                   level=validate_choice(level, AccessLevel, "permission"))
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
    user_table, group_table = selectors.PERMISSION_TABLES[type(entry)]
    permissions = _permissions(entry, selectors.grant_codenames(type(entry), level))
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
    user_table, group_table = selectors.PERMISSION_TABLES[type(entry)]
    permissions = _permissions(entry, selectors.access_codenames(type(entry), level))
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

VERSION_PARENT = {ModelVersion: ("model", RegisteredModel),
                  DatasetVersion: ("dataset", Dataset)}


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
    parent_field, parent_class = VERSION_PARENT[version_class]
    parent = catalog_entry_for_change(entry_class=parent_class, actor=actor, entry_id=parent_id)
    major, minor, patch, prerelease = parse_semver(version)
    validate_text(description, "description")
    validate_source_uri(source_uri)
    validate_metrics(metrics or {})
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
    if version_class.objects.filter(**{parent_field: parent, "version": version}).exists():
        raise CodedValidationError({"version": f"{version!r} already exists."},
                              code=Code.DUPLICATE_VERSION)
    instance = version_class.objects.create(
        **{parent_field: parent}, version=version, version_major=major, version_minor=minor,
        version_patch=patch, version_prerelease=prerelease, description=description,
        source_uri=source_uri, metrics=metrics or {}, created_by=actor.user, **fields,
    )
    metadata_set(owner=instance, actor=actor, metadata=metadata or {})
    if dataset_version_ids:
        linked = list(selectors.dataset_versions_visible_to(actor)
                      .filter(pk__in=dataset_version_ids))
        if len(linked) != len(set(dataset_version_ids)):
            raise not_found("datasetVersions")
        instance.dataset_versions.add(*linked)
    latest_version_refresh(parent)
    return instance


def latest_version_refresh(parent: CatalogEntry) -> None:
    """Point `parent.latest_version` at its newest version by semantic precedence."""
    parent.latest_version = parent.versions.order_by(*Version.SEMVER_ORDER).first()
    parent.save(update_fields=["latest_version", "updated_at"])


def version_get(*, actor: Actor, version_class: type[Version], version_id: int) -> Version:
    visible = (selectors.model_versions_visible_to(actor) if version_class is ModelVersion
               else selectors.dataset_versions_visible_to(actor))
    version = visible.filter(pk=version_id).first()
    if version is None:
        raise not_found("versionId")
    return version


def version_for_change(*, actor: Actor, version: Version) -> Version:
    """`version` if the actor may change its model or dataset, else NOT_FOUND on
    `versionId`, as `version_get` answers for a version that does not exist."""
    parent_field, parent_class = VERSION_PARENT[type(version)]
    catalog_entry_for_change(entry_class=parent_class, actor=actor,
                             entry_id=getattr(version, f"{parent_field}_id"), field="versionId")
    return version


@transaction.atomic
def version_state_set(*, actor: Actor, version: Version, state: str) -> Version:
    require_scope(actor)
    version_for_change(actor=actor, version=version)
    version.state = validate_choice(state, VersionState, "state")
    version.save(update_fields=["state", "updated_at"])
    return version


# --- Aliases -------------------------------------------------------------------------------

@transaction.atomic
def model_alias_set(*, actor: Actor, model_id: int, alias: str,
                    version_id: int) -> ModelAlias:
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
    model_alias, _ = ModelAlias.objects.update_or_create(
        model=model, name=alias, defaults={"version": version}
    )
    return model_alias


@transaction.atomic
def model_alias_remove(*, actor: Actor, model_id: int, alias: str) -> RegisteredModel:
    require_scope(actor)
    model = catalog_entry_for_change(entry_class=RegisteredModel, actor=actor,
                                     entry_id=model_id)
    deleted, _ = ModelAlias.objects.filter(model=model, name=alias).delete()
    if not deleted:
        raise not_found("alias")
    return model


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
    staged = storage.stage_stream(tenant=actor.tenant, stream=stream)
    with storage.blob_for(tenant=actor.tenant, staged=staged) as blob:
        return file_create_from_blob(actor=actor, version=version, path=path, blob=blob,
                                     content_type=content_type)


def file_add_check(*, actor: Actor, version: Version, path: str, size: int,
                   upload_session_id: int | None = None) -> None:
    """What refuses a new file: rights on the version, the path, a duplicate, size and quota."""
    require_scope(actor)
    version_for_change(actor=actor, version=version)
    validate_file_path(path)
    version_field = _version_field(VERSION_PARENT[type(version)][1])
    if ArtifactFile.objects.filter(**{version_field: version, "path": path}).exists():
        raise _duplicate_path(path)
    storage.quota_check(tenant=actor.tenant, incoming_bytes=size,
                        exclude_session_id=upload_session_id)


def _duplicate_path(path: str) -> CodedValidationError:
    return CodedValidationError({"path": f"{path!r} already exists in this version."},
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
    version_field = _version_field(VERSION_PARENT[type(version)][1])
    try:
        with transaction.atomic():
            artifact = ArtifactFile.objects.create(
                tenant=actor.tenant, **{version_field: version}, path=path, blob=blob,
                size=blob.size, sha256=blob.sha256,
                content_type=content_type or storage.guess_content_type(path),
                uploaded_by=actor.user,
            )
    except IntegrityError as error:  # a concurrent upload took the path
        raise _duplicate_path(path) from error
    file_created_hook(artifact)
    return artifact


def file_created_hook(artifact: ArtifactFile) -> None:
    # The scanning app listens and queues the scan once the row is committed; the
    # registry itself knows nothing of scanners.
    signals.file_created.send(sender=ArtifactFile, file=artifact)
