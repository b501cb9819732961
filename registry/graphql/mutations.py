"""Mutations orchestrate: decode ids, call one service, return the object.

Errors raised by services (ValidationError with a code) become `OperationInfo` messages.
"""

import strawberry
import strawberry_django
from strawberry import UNSET, relay
from strawberry.file_uploads import Upload

from config.graphql_context import DeletionType, actor_of, decode_id
from registry import models, services
from registry.graphql import inputs
from registry.graphql.ids import version_from_global_id
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


def _container_images(images: list[inputs.ContainerImageInput]) -> list[dict]:
    return [{"registry": image.registry, "repository": image.repository,
             "digest": image.digest} for image in images]


def _given(**fields) -> dict:
    """The fields a caller gave: UNSET and null both leave a field as it is."""
    return {name: value for name, value in fields.items() if value not in (UNSET, None)}


def _update_version(info, version_class, type_name: str, data: inputs.VersionUpdateFields,
                    **fields):
    actor = actor_of(info)
    version = services.version_get(actor=actor, version_class=version_class,
                                   version_id=decode_id(data.id, type_name), field="id")
    return services.version_update(
        actor=actor, version=version, field="id", metadata=_metadata_changes(data.metadata),
        **_given(description=data.description, source_uri=data.source, metrics=data.metrics,
                 state=data.state),
        **fields,
    )


def _set_version_immutable(info, version_class, type_name: str, global_id: relay.GlobalID,
                           immutable: bool):
    actor = actor_of(info)
    version = services.version_get(actor=actor, version_class=version_class,
                                   version_id=decode_id(global_id, type_name), field="id")
    return services.version_immutable_set(actor=actor, version=version, immutable=immutable,
                                          field="id")


def _delete_version(info, version_class, type_name: str,
                    global_id: relay.GlobalID) -> DeletionType:
    actor = actor_of(info)
    version = services.version_get(actor=actor, version_class=version_class,
                                   version_id=decode_id(global_id, type_name), field="id")
    services.version_delete(actor=actor, version=version, field="id")
    return DeletionType(deleted_id=global_id)


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
            container_images=_container_images(data.container_images),
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

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Protect or unprotect an alias; for those who manage the model.",
    )
    def protect_model_alias(self, info: strawberry.Info, model_id: relay.GlobalID, alias: str,
                            protected: bool) -> ModelAliasType:
        return services.model_alias_protect(
            actor=actor_of(info),
            model_id=decode_id(model_id, "RegisteredModel", field="modelId"), alias=alias,
            protected=protected,
        )

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Freeze a version (those who manage the model) or thaw it (tenant "
                    "admins).",
    )
    def set_model_version_immutable(self, info: strawberry.Info, id: relay.GlobalID,
                                    immutable: bool) -> ModelVersionType:
        return _set_version_immutable(info, models.ModelVersion, "ModelVersion", id, immutable)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Freeze a version (those who manage the dataset) or thaw it (tenant "
                    "admins).",
    )
    def set_dataset_version_immutable(self, info: strawberry.Info, id: relay.GlobalID,
                                      immutable: bool) -> DatasetVersionType:
        return _set_version_immutable(info, models.DatasetVersion, "DatasetVersion", id,
                                      immutable)

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

    # --- Editing and deleting versions, their files and lineage ----------------------------

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Change a model version's descriptive fields, state, metadata and "
                    "lineage (those who may change the model).",
    )
    def update_model_version(self, info: strawberry.Info,
                             data: inputs.UpdateModelVersionInput) -> ModelVersionType:
        fields = _given(precision=data.precision, hardware=data.hardware,
                        checkpoints=data.checkpoints, container_images=data.container_images)
        if "hardware" in fields:
            fields["hardware"] = _hardware(fields["hardware"])
        if "container_images" in fields:
            fields["container_images"] = _container_images(fields["container_images"])
        return _update_version(
            info, models.ModelVersion, "ModelVersion", data,
            dataset_versions=_changes(data.dataset_versions, "DatasetVersion",
                                      "datasetVersions"),
            **fields,
        )

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Change a dataset version's descriptive fields, state and metadata.",
    )
    def update_dataset_version(self, info: strawberry.Info,
                               data: inputs.UpdateDatasetVersionInput) -> DatasetVersionType:
        return _update_version(info, models.DatasetVersion, "DatasetVersion", data)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Delete a model version and its files (those who may delete the model); "
                    "refused while an alias points at it or a DEPLOYED inference service "
                    "serves it.",
    )
    def delete_model_version(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        return _delete_version(info, models.ModelVersion, "ModelVersion", id)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Delete a dataset version and its files (those who may delete the "
                    "dataset).",
    )
    def delete_dataset_version(self, info: strawberry.Info, id: relay.GlobalID
                               ) -> DeletionType:
        return _delete_version(info, models.DatasetVersion, "DatasetVersion", id)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Delete a file of a version (those who may delete its model or dataset).",
    )
    def delete_file(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        services.file_delete(actor=actor_of(info), file_id=decode_id(id, "ArtifactFile"))
        return DeletionType(deleted_id=id)
