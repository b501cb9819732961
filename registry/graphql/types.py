from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from django.db.models import Prefetch, QuerySet
from strawberry.scalars import JSON
from strawberry_django.relay import DjangoListConnection

from accounts.actor import Actor
from accounts.graphql.types import UserType
from config.graphql_context import actor_of
from config.graphql_node import RestrictedNode, model_field, model_type
from registry import models as registry_models
from registry import selectors, transfer
from registry.graphql.enums import (
    AliasActionEnum,
    ScanStatusEnum,
    StatusEnum,
    UploadStateEnum,
    VersionStateEnum,
    VisibilityEnum,
    VocabularyUsageEnum,
)
from registry.graphql.filters import (
    DatasetFilter,
    DatasetOrder,
    MetadataKeyFilter,
    RegisteredModelFilter,
    RegisteredModelOrder,
    TagFilter,
    VocabularyOrder,
)
from registry.graphql.scalars import BigInt
from registry.urls_public import archive_url, file_download_url
from scanning.graphql.fields import (
    ScanReportList,
    file_scan_reports_field,
    version_scan_reports_field,
)
from usage.graphql.types import UsageType, usage_field

if TYPE_CHECKING:
    from deployments.graphql.types import InferenceServiceType


@strawberry.type(name="MetadataEntry")
class MetadataEntryType:
    name: str
    value: str


@strawberry.type(name="HardwareRequirements")
class HardwareRequirementsType:
    min_memory_mb: BigInt | None = None
    min_cpu_cores: int | None = None
    gpu_memory_mb: BigInt | None = None
    disk_mb: BigInt | None = None
    accelerators: list[str] = strawberry.field(default_factory=list)


@strawberry.type(name="ContainerImage")
class ContainerImageType:
    registry: str
    repository: str
    digest: str


def _metadata_field(table: type[registry_models.MetadataEntry]):
    """`metadata` on a catalog type: one prefetch per page, whatever its size."""

    @strawberry_django.field(
        prefetch_related=[Prefetch("metadata", queryset=table.objects.select_related("key"))]
    )
    def metadata(root) -> list[MetadataEntryType]:
        return [MetadataEntryType(name=entry.key.name, value=entry.value)
                for entry in root.metadata.all()]

    return metadata


@strawberry.type
class VocabularyFields:
    """Fields shared by tags and metadata names."""

    name: str
    usage: VocabularyUsageEnum
    description: str
    created_at: datetime

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(tenant=actor.tenant)


def _usage_count_field(with_usage, description: str):
    """`usageCount`: the list queries annotate it; a lone entry is counted on demand."""

    @strawberry_django.field(description=description)
    def usage_count(root, info: strawberry.Info) -> int:
        annotated = getattr(root, "usage_count", None)
        if annotated is None:
            return with_usage(actor_of(info)).get(pk=root.pk).usage_count
        return annotated

    return usage_count


@model_type(registry_models.Tag, name="Tag", filters=TagFilter, order=VocabularyOrder)
class TagType(VocabularyFields, RestrictedNode):
    usage_count: int = _usage_count_field(selectors.tags_with_usage,
                                          "Models and datasets carrying this tag.")


@model_type(registry_models.MetadataKey, name="MetadataKey",
                        filters=MetadataKeyFilter, order=VocabularyOrder)
class MetadataKeyType(VocabularyFields, RestrictedNode):
    usage_count: int = _usage_count_field(selectors.metadata_keys_with_usage,
                                          "Entries using this metadata name.")


@model_type(registry_models.ArtifactFile, name="ArtifactFile")
class ArtifactFileType(RestrictedNode):
    path: str
    size: BigInt
    sha256: str
    content_type: str
    scan_status: ScanStatusEnum
    created_at: strawberry.auto
    last_downloaded_at: strawberry.auto
    scan_reports: ScanReportList = file_scan_reports_field()
    usage: UsageType = usage_field()

    restrict = staticmethod(selectors.restrict_files)

    @strawberry_django.field(description="Follow with an authorised GET to fetch the bytes.")
    def download_url(self) -> str:
        return file_download_url(self)


@strawberry.type(name="UploadPartUrl")
class UploadPartUrlType:
    part_number: int
    url: str
    size: BigInt


@strawberry.type(name="UploadedPart")
class UploadedPartType:
    part_number: int
    etag: str
    size: BigInt


UPLOAD_LAYOUT_FIELDS = ["size", "part_count", "part_size", "staging_key", "s3_upload_id",
                        "state", "expires_at"]


@model_type(registry_models.UploadSession, name="UploadSession")
class UploadSessionType(RestrictedNode):
    """A resumable upload: PUT each part to its URL, then completeUpload with the ETags."""

    path: str
    size: BigInt
    sha256: str
    part_count: int
    part_size: BigInt = model_field(
        description="Every part but the last has this size; the last has the rest."
    )
    content_type: str
    state: UploadStateEnum
    created_at: strawberry.auto
    expires_at: strawberry.auto

    restrict = staticmethod(selectors.restrict_upload_sessions)

    @strawberry_django.field(only=["file_id"],
                             description="The file, once the upload is completed.")
    def file(self, info: strawberry.Info) -> ArtifactFileType | None:
        # Through the files' own visibility: the uploader may have lost access since.
        if self.file_id is None:
            return None
        return selectors.files_visible_to(actor_of(info)).filter(pk=self.file_id).first()

    @strawberry_django.field(
        only=UPLOAD_LAYOUT_FIELDS,
        description="Where to PUT each part (all, or those asked for) while the upload is "
                    "open; each URL expires with the upload.",
    )
    def part_urls(self, part_numbers: list[int] | None = None) -> list[UploadPartUrlType]:
        return [UploadPartUrlType(part_number=number, url=url, size=size)
                for number, url, size in transfer.upload_part_urls(self, part_numbers)]

    @strawberry_django.field(
        only=UPLOAD_LAYOUT_FIELDS,
        description="The parts received so far, to resume an interrupted upload.",
    )
    def uploaded_parts(self) -> list[UploadedPartType]:
        return [UploadedPartType(part_number=part.number, etag=part.etag, size=part.size)
                for part in transfer.upload_parts_received(self)]


@strawberry.type
class VersionFields:
    """Fields shared by model versions and dataset versions."""

    version: str
    description: str
    state: VersionStateEnum
    metrics: JSON
    created_at: datetime
    updated_at: datetime
    created_by: UserType
    immutable: bool = model_field(
        description="No new files, file deletion, content change or deletion while set."
    )

    @strawberry_django.field(prefetch_related=[Prefetch(
        "files", to_attr="files_scan_status", queryset=selectors.untrashed(
            registry_models.ArtifactFile.objects.only("scan_status", "model_version",
                                                      "dataset_version")))],
                             description="The worst scan status of the version's files.")
    def scan_status(self) -> ScanStatusEnum:
        # A page's statuses come from one prefetch of that column into plain lists, without
        # a related manager per version.
        files = getattr(self, "files_scan_status", None)
        if files is None:
            files = selectors.version_files(self).only("scan_status")
        return selectors.version_scan_status(files)

    @strawberry_django.field(description="The whole version as one archive.")
    def archive_url(self) -> str:
        return archive_url(self)

    scan_reports: ScanReportList = version_scan_reports_field()
    usage: UsageType = usage_field()
    source: str = model_field(field_name="source_uri")


@model_type(registry_models.ModelVersion, name="ModelVersion")
class ModelVersionType(VersionFields, RestrictedNode):
    model: Annotated["RegisteredModelType", strawberry.lazy("registry.graphql.types")]
    precision: str
    checkpoints: list[str]
    files: list[ArtifactFileType]
    dataset_versions: list[Annotated["DatasetVersionType",
                                     strawberry.lazy("registry.graphql.types")]]
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.ModelVersionMetadata)
    # Prefetched only when a query asks for it, through the services' own visibility.
    inference_services: list[Annotated["InferenceServiceType",
                                       strawberry.lazy("deployments.graphql.types")]] = (
        model_field(description="The inference services serving this version."))

    restrict = staticmethod(selectors.restrict_model_versions)

    @strawberry_django.field(only=["hardware"])
    def hardware(self) -> HardwareRequirementsType:
        return HardwareRequirementsType(**self.hardware)

    @strawberry_django.field(only=["container_images"])
    def container_images(self) -> list[ContainerImageType]:
        return [ContainerImageType(**image) for image in self.container_images]

    @strawberry_django.field(prefetch_related=["aliases"])
    def aliases(self) -> list[str]:
        return sorted(alias.name for alias in self.aliases.all())


@model_type(registry_models.DatasetVersion, name="DatasetVersion")
class DatasetVersionType(VersionFields, RestrictedNode):
    dataset: Annotated["DatasetType", strawberry.lazy("registry.graphql.types")]
    files: list[ArtifactFileType]
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.DatasetVersionMetadata)
    model_versions: list[ModelVersionType] = model_field(
        description="Model versions trained or evaluated on this dataset version."
    )

    restrict = staticmethod(selectors.restrict_dataset_versions)


@model_type(registry_models.ModelAlias, name="ModelAlias")
class ModelAliasType(RestrictedNode):
    name: str
    version: ModelVersionType
    updated_at: strawberry.auto
    protected: bool = model_field(
        description="Only those who manage the model may move or remove it."
    )

    restrict = staticmethod(selectors.restrict_aliases)


@model_type(registry_models.ModelAliasEvent, name="AliasHistoryEntry")
class AliasHistoryEntryType(RestrictedNode):
    alias: str
    action: AliasActionEnum
    version: ModelVersionType | None = model_field(
        description="The version the alias was set or moved to; null when removed."
    )
    previous_version: ModelVersionType | None = model_field(
        description="The version the alias named before; null when first set."
    )
    at: datetime

    restrict = staticmethod(selectors.restrict_alias_events)

    @strawberry_django.field(select_related=["actor"],
                             description="Who moved it; null for a deleted user or a move "
                                         "recorded before history was kept.")
    def actor_name(self) -> str | None:
        return self.actor.username if self.actor else None


def _visible_tags(info: strawberry.Info) -> Prefetch:
    return Prefetch("tags", to_attr="tags_visible", queryset=TagType.restrict(
        registry_models.Tag.objects.all(), actor_of(info)))


@strawberry_django.field(prefetch_related=[_visible_tags])
def _tags(root, info: strawberry.Info, filters: TagFilter | None = strawberry.UNSET,
          order: VocabularyOrder | None = strawberry.UNSET) -> list[TagType]:
    # A page's tags come from one prefetch as plain lists: the relation's own resolver builds
    # two managers and querysets per row, the largest share of a page's time after columns.
    prefetched = getattr(root, "tags_visible", None)
    if prefetched is not None and not filters and not order:
        return prefetched
    tags = TagType.restrict(root.tags.all(), actor_of(info))
    return list(strawberry_django.ordering.apply(
        order, strawberry_django.filters.apply(filters, tags, info), info))


@strawberry.type
class CatalogFields:
    """Fields shared by registered models and datasets."""

    name: str
    project_name: str
    description: str
    readme: str
    status: StatusEnum
    visibility: VisibilityEnum
    license: str
    author: str
    organization: str
    category: str
    architecture: str
    framework: str
    created_at: datetime
    updated_at: datetime
    owner: UserType
    tags: list[TagType] = _tags
    usage: UsageType = usage_field()


@model_type(registry_models.RegisteredModel, name="RegisteredModel",
                        filters=RegisteredModelFilter, order=RegisteredModelOrder)
class RegisteredModelType(CatalogFields, RestrictedNode):
    versions: DjangoListConnection[ModelVersionType] = strawberry_django.connection()
    aliases: list[ModelAliasType]
    datasets: list[Annotated["DatasetType", strawberry.lazy("registry.graphql.types")]]
    latest_version: ModelVersionType | None = model_field(
        description="The newest version by semantic-version precedence."
    )
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.ModelMetadata)

    restrict = staticmethod(selectors.restrict_catalog)



@model_type(registry_models.Dataset, name="Dataset", filters=DatasetFilter,
                        order=DatasetOrder)
class DatasetType(CatalogFields, RestrictedNode):
    versions: DjangoListConnection[DatasetVersionType] = strawberry_django.connection()
    latest_version: DatasetVersionType | None = model_field(
        description="The newest version by semantic-version precedence."
    )
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.DatasetMetadata)
    models: list[RegisteredModelType] = model_field(
        description="Models that declare this dataset in their lineage."
    )

    restrict = staticmethod(selectors.restrict_catalog)

