"""The trash in GraphQL: what a tenant's admins see in it, and restoring from it.

Trashed rows are hidden from every other query (see registry.selectors); here they are
looked up through `selectors.trashed_*`, which yield nothing to anyone but the tenant's
admins, so any other caller gets NOT_FOUND, as for an id that does not exist.
"""

from datetime import datetime

import strawberry
import strawberry_django
from strawberry import relay

from accounts.errors import not_found
from config.graphql_context import actor_of, decode_id
from registry import catalog, selectors, trash
from registry.graphql.scalars import BigInt
from registry.graphql.types import ArtifactFileType, DatasetVersionType, ModelVersionType
from registry.models import ArtifactFile, Version

TRASH_PAGE_MAX = 500


@strawberry.type(name="TrashEntry", description="A trashed version (with its files) or a "
                                                "file trashed on its own.")
class TrashEntryType:
    id: relay.GlobalID = strawberry.field(
        description="The ModelVersion, DatasetVersion or ArtifactFile id, for restore*.")
    name: str = strawberry.field(description="`model 1.0.0`, or `model 1.0.0/path` for a file.")
    size: BigInt = strawberry.field(description="Bytes of its files.")
    trashed_at: datetime
    purge_after: datetime = strawberry.field(
        description="Restorable until then; purged by the next `purge-trash` run after it.")
    reason: str
    trashed_by: str | None = strawberry.field(description="Username; null for a system job.")


def _version_entry(version: Version) -> TrashEntryType:
    kind = catalog.kind_of(version)
    parent = getattr(version, kind.parent_field)
    return TrashEntryType(
        id=relay.GlobalID(kind.version_type_name, str(version.pk)),
        name=f"{parent.name} {version.version}", size=version.size or 0,
        trashed_at=version.trashed_at, purge_after=version.purge_after,
        reason=version.trash_reason,
        trashed_by=version.trashed_by.username if version.trashed_by else None)


def _file_entry(artifact: ArtifactFile) -> TrashEntryType:
    version = artifact.version
    parent = getattr(version, catalog.kind_of(version).parent_field)
    return TrashEntryType(
        id=relay.GlobalID("ArtifactFile", str(artifact.pk)),
        name=f"{parent.name} {version.version}/{artifact.path}", size=artifact.size,
        trashed_at=artifact.trashed_at, purge_after=artifact.purge_after,
        reason=artifact.trash_reason,
        trashed_by=artifact.trashed_by.username if artifact.trashed_by else None)


@strawberry.type
class Query:
    @strawberry.field(description="Tenant admins: the tenant's trash, most recently trashed "
                                  "first (at most 500); empty for anyone else.")
    def trash(self, info: strawberry.Info, first: int = 100) -> list[TrashEntryType]:
        actor = actor_of(info)
        first = max(0, min(first, TRASH_PAGE_MAX))
        entries = [_version_entry(version)
                   for kind in catalog.KINDS
                   for version in selectors.trashed_versions(actor, kind)
                   .select_related(kind.parent_field, "trashed_by")[:first]]
        entries += [_file_entry(artifact) for artifact in selectors.trashed_files(actor, alone=True)
                    .select_related("model_version__model", "dataset_version__dataset",
                                    "trashed_by")[:first]]
        return sorted(entries, key=lambda entry: entry.trashed_at, reverse=True)[:first]


def _trashed_version(info: strawberry.Info, global_id: relay.GlobalID,
                     kind: catalog.CatalogKind) -> Version:
    version = (selectors.trashed_versions(actor_of(info), kind)
               .filter(pk=decode_id(global_id, kind.version_type_name)).first())
    if version is None:
        raise not_found()
    return version


@strawberry.type
class Mutation:
    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: take a model version and its files out of the trash, "
                    "before its `purgeAfter`.",
    )
    def restore_model_version(self, info: strawberry.Info, id: relay.GlobalID
                              ) -> ModelVersionType:
        return trash.version_restore(actor=actor_of(info),
                                     version=_trashed_version(info, id, catalog.MODEL))

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: take a dataset version and its files out of the trash, "
                    "before its `purgeAfter`.",
    )
    def restore_dataset_version(self, info: strawberry.Info, id: relay.GlobalID
                                ) -> DatasetVersionType:
        return trash.version_restore(actor=actor_of(info),
                                     version=_trashed_version(info, id, catalog.DATASET))

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: take a file out of the trash, before its `purgeAfter`; a "
                    "file of a trashed version comes back with its version.",
    )
    def restore_file(self, info: strawberry.Info, id: relay.GlobalID) -> ArtifactFileType:
        actor = actor_of(info)
        artifact = selectors.trashed_files(actor).filter(pk=decode_id(id, "ArtifactFile")).first()
        if artifact is None:
            raise not_found()
        return trash.file_restore(actor=actor, artifact=artifact)
