"""The two kinds of catalog entry, models and datasets, and what differs between them.

Code that must tell a model from a dataset (a version's parent, a file's version column, the
permission tables, the archive URL, the GraphQL type names) reads it from this table instead
of comparing classes itself.
"""

from dataclasses import dataclass

from django.db.models import Model

from registry.models import (
    AccessLevel,
    CatalogEntry,
    Dataset,
    DatasetGroupObjectPermission,
    DatasetUserObjectPermission,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    RegisteredModelUserObjectPermission,
    Version,
)


@dataclass(frozen=True)
class CatalogKind:
    name: str  # in URLs: /versions/<name>/<id>/archive
    entry_class: type[CatalogEntry]
    version_class: type[Version]
    parent_field: str  # the version's foreign key to its entry
    version_field: str  # a file's (and an upload's) foreign key to its version
    user_permissions: type[Model]  # guardian's per-object grant tables
    group_permissions: type[Model]
    entry_type_name: str  # GraphQL
    version_type_name: str

    def codename(self, level: str) -> str:
        """Guardian's codename of `level` on this kind of entry."""
        return f"{level}_{self.entry_class._meta.model_name}"

    def access_codenames(self, level: str) -> list[str]:
        """Codenames that satisfy a check for `level`: it and every level above it."""
        levels = list(AccessLevel)
        return [self.codename(held) for held in levels[levels.index(level):]]

    def grant_codenames(self, level: str) -> list[str]:
        """Codenames stored for a grant of `level`: it and every level below it, so
        guardian's own `has_perm(obj)` agrees with these rules."""
        levels = list(AccessLevel)
        return [self.codename(held) for held in levels[:levels.index(level) + 1]]


MODEL = CatalogKind(
    name="model", entry_class=RegisteredModel, version_class=ModelVersion, parent_field="model",
    version_field="model_version",
    user_permissions=RegisteredModelUserObjectPermission,
    group_permissions=RegisteredModelGroupObjectPermission,
    entry_type_name="RegisteredModel", version_type_name="ModelVersion",
)
DATASET = CatalogKind(
    name="dataset", entry_class=Dataset, version_class=DatasetVersion, parent_field="dataset",
    version_field="dataset_version", user_permissions=DatasetUserObjectPermission,
    group_permissions=DatasetGroupObjectPermission, entry_type_name="Dataset",
    version_type_name="DatasetVersion",
)
KINDS = (MODEL, DATASET)

BY_NAME = {kind.name: kind for kind in KINDS}
BY_ENTRY_TYPE_NAME = {kind.entry_type_name: kind for kind in KINDS}
BY_VERSION_TYPE_NAME = {kind.version_type_name: kind for kind in KINDS}
_BY_CLASS = {cls: kind for kind in KINDS for cls in (kind.entry_class, kind.version_class)}


def kind_of(obj: CatalogEntry | Version | type[CatalogEntry] | type[Version]) -> CatalogKind:
    """The kind of an entry or version, or of its class."""
    return _BY_CLASS[obj if isinstance(obj, type) else type(obj)]
