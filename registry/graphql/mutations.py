"""Mutations orchestrate: decode ids, call one service, return the object.

Errors raised by services (ValidationError with a code) become `OperationInfo` messages.
"""

import strawberry
import strawberry_django
from strawberry import UNSET, relay
from strawberry.file_uploads import Upload

from config.graphql_context import actor_of
from registry import models, services
from registry.graphql import inputs
from registry.graphql.types import (
    ArtifactFileType,
    DatasetType,
    DatasetVersionType,
    MetadataKeyType,
    ModelAliasType,
    ModelVersionType,
    RegisteredModelType,
    TagType,
)

CATALOG_SCALARS = ("name", "description", "readme", "project_name", "status", "visibility",
                   "license", "author", "organization", "category", "architecture",
                   "framework")


VERSION_CLASSES = {"ModelVersion": models.ModelVersion, "DatasetVersion": models.DatasetVersion}


def version_from_global_id(actor, global_id: relay.GlobalID) -> models.Version:
    """The model or dataset version behind `global_id` if visible, else NOT_FOUND."""
    version_id = decode_id(global_id, *VERSION_CLASSES, field="versionId")
    return services.version_get(actor=actor, version_class=VERSION_CLASSES[global_id.type_name],
                                version_id=version_id)


@strawberry.type(name="Deletion")
class DeletionType:
    deleted_id: relay.GlobalID


def decode_id(global_id: relay.GlobalID, *type_names: str, field: str = "id") -> int:
    """The primary key behind a global id of one of `type_names`, else NOT_FOUND."""
    if global_id.type_name not in type_names or not str(global_id.node_id).isdigit():
        raise services.not_found(field)
    return int(global_id.node_id)


def _changes(value, type_name: str | None = None, field: str = "") -> services.ListChanges | None:
    if value in (UNSET, None):
        return None
    if type_name is None:
        return services.ListChanges(add=list(value.add), remove=list(value.remove))
    return services.ListChanges(
        add=[decode_id(item, type_name, field=field) for item in value.add],
        remove=[decode_id(item, type_name, field=field) for item in value.remove],
    )


def _metadata_changes(value: inputs.MetadataChangesInput | None) -> dict[str, str | None]:
    if value in (UNSET, None):
        return {}
    return {**{name: None for name in value.remove},
            **{entry.name: entry.value for entry in value.add}}


def _create_entry(info, entry_class, data: inputs.CatalogCreateFields, **relations):
    return services.catalog_entry_create(
        entry_class=entry_class,
        actor=actor_of(info),
        **{field: getattr(data, field) for field in CATALOG_SCALARS},
        tags=data.tags,
        metadata={entry.name: entry.value for entry in data.metadata},
        users=[decode_id(user, "User", field="users") for user in data.users],
        **relations,
    )


def _update_entry(info, entry_class, type_name: str, data: inputs.CatalogUpdateFields,
                  **relations):
    scalars = {field: getattr(data, field) for field in CATALOG_SCALARS
               if getattr(data, field) not in (UNSET, None)}
    return services.catalog_entry_update(
        entry_class=entry_class,
        actor=actor_of(info),
        entry_id=decode_id(data.id, type_name),
        tags=_changes(data.tags),
        metadata=_metadata_changes(data.metadata),
        users=_changes(data.users, "User", "users"),
        **relations,
        **scalars,
    )


def _delete_entry(info, entry_class, type_name: str, global_id: relay.GlobalID) -> DeletionType:
    services.catalog_entry_delete(entry_class=entry_class, actor=actor_of(info),
                                  entry_id=decode_id(global_id, type_name))
    return DeletionType(deleted_id=global_id)


def _version_common(data: inputs.VersionCreateFields) -> dict:
    return {
        "version": data.version,
        "description": data.description,
        "source_uri": data.source,
        "metrics": data.metrics,
        "metadata": {entry.name: entry.value for entry in data.metadata},
    }


def _hardware(value: inputs.HardwareRequirementsInput | None) -> dict:
    if value in (UNSET, None):
        return {}
    return {name: getattr(value, name) for name in
            ("min_memory_mb", "min_cpu_cores", "gpu_memory_mb", "disk_mb", "accelerators")
            if getattr(value, name) not in (UNSET, None)}


@strawberry.type
class Mutation:
    @strawberry_django.mutation(handle_django_errors=True)
    def create_model(self, info: strawberry.Info, data: inputs.CreateModelInput
                     ) -> RegisteredModelType:
        return _create_entry(
            info, models.RegisteredModel, data,
            datasets=[decode_id(d, "Dataset", field="datasets") for d in data.datasets],
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def update_model(self, info: strawberry.Info, data: inputs.UpdateModelInput
                     ) -> RegisteredModelType:
        return _update_entry(info, models.RegisteredModel, "RegisteredModel", data,
                             datasets=_changes(data.datasets, "Dataset", "datasets"))

    @strawberry_django.mutation(handle_django_errors=True)
    def delete_model(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        return _delete_entry(info, models.RegisteredModel, "RegisteredModel", id)

    @strawberry_django.mutation(handle_django_errors=True)
    def create_dataset(self, info: strawberry.Info, data: inputs.CreateDatasetInput
                       ) -> DatasetType:
        return _create_entry(info, models.Dataset, data)

    @strawberry_django.mutation(handle_django_errors=True)
    def update_dataset(self, info: strawberry.Info, data: inputs.UpdateDatasetInput
                       ) -> DatasetType:
        return _update_entry(info, models.Dataset, "Dataset", data)

    @strawberry_django.mutation(handle_django_errors=True)
    def delete_dataset(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        return _delete_entry(info, models.Dataset, "Dataset", id)

    @strawberry_django.mutation(handle_django_errors=True)
    def create_model_version(self, info: strawberry.Info, data: inputs.CreateModelVersionInput
                             ) -> ModelVersionType:
        return services.version_create(
            version_class=models.ModelVersion,
            actor=actor_of(info),
            parent_id=decode_id(data.model_id, "RegisteredModel", field="modelId"),
            **_version_common(data),
            precision=data.precision,
            hardware=_hardware(data.hardware),
            checkpoints=data.checkpoints,
            container_images=[{"registry": image.registry, "repository": image.repository,
                               "digest": image.digest} for image in data.container_images],
            dataset_version_ids=[decode_id(d, "DatasetVersion", field="datasetVersions")
                                 for d in data.dataset_versions],
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def create_dataset_version(self, info: strawberry.Info,
                               data: inputs.CreateDatasetVersionInput) -> DatasetVersionType:
        return services.version_create(
            version_class=models.DatasetVersion,
            actor=actor_of(info),
            parent_id=decode_id(data.dataset_id, "Dataset", field="datasetId"),
            **_version_common(data),
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def set_version_state(self, info: strawberry.Info, data: inputs.SetVersionStateInput
                          ) -> ModelVersionType:
        actor = actor_of(info)
        version_id = decode_id(data.version_id, "ModelVersion", field="versionId")
        version = services.version_get(actor=actor, version_class=models.ModelVersion,
                                       version_id=version_id)
        return services.version_state_set(actor=actor, version=version, state=data.state)

    @strawberry_django.mutation(handle_django_errors=True)
    def upload_file(self, info: strawberry.Info, version_id: relay.GlobalID, path: str,
                    file: Upload) -> ArtifactFileType:
        actor = actor_of(info)
        version = version_from_global_id(actor, version_id)
        return services.file_add(actor=actor, version=version, path=path, stream=file,
                                 declared_size=file.size,
                                 content_type=getattr(file, "content_type", "") or "")

    @strawberry_django.mutation(handle_django_errors=True)
    def set_model_alias(self, info: strawberry.Info, model_id: relay.GlobalID, alias: str,
                        version_id: relay.GlobalID) -> ModelAliasType:
        return services.model_alias_set(
            actor=actor_of(info),
            model_id=decode_id(model_id, "RegisteredModel", field="modelId"),
            alias=alias,
            version_id=decode_id(version_id, "ModelVersion", field="versionId"),
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def remove_model_alias(self, info: strawberry.Info, model_id: relay.GlobalID, alias: str
                           ) -> RegisteredModelType:
        return services.model_alias_remove(
            actor=actor_of(info),
            model_id=decode_id(model_id, "RegisteredModel", field="modelId"), alias=alias,
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def create_default_tag(self, info: strawberry.Info, data: inputs.VocabularyEntryInput
                           ) -> TagType:
        return services.default_vocabulary_entry_create(
            entry_class=models.Tag, actor=actor_of(info), name=data.name,
            description=data.description,
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def delete_tag(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        services.vocabulary_entry_delete(entry_class=models.Tag, actor=actor_of(info),
                                         entry_id=decode_id(id, "Tag"))
        return DeletionType(deleted_id=id)

    @strawberry_django.mutation(handle_django_errors=True)
    def create_default_metadata_key(self, info: strawberry.Info,
                                    data: inputs.VocabularyEntryInput) -> MetadataKeyType:
        return services.default_vocabulary_entry_create(
            entry_class=models.MetadataKey, actor=actor_of(info), name=data.name,
            description=data.description,
        )

    @strawberry_django.mutation(handle_django_errors=True)
    def delete_metadata_key(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        services.vocabulary_entry_delete(entry_class=models.MetadataKey, actor=actor_of(info),
                                         entry_id=decode_id(id, "MetadataKey"))
        return DeletionType(deleted_id=id)
