from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django
from django.db.models import Prefetch, QuerySet
from strawberry import relay
from strawberry.scalars import JSON
from strawberry_django.relay import DjangoListConnection

from accounts.graphql.types import UserType
from config.graphql_context import actor_of
from registry import models as registry_models
from registry import selectors, transfer
from registry.graphql.enums import (
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

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return queryset.filter(tenant=actor_of(info).tenant)


def _usage_count_field(with_usage, description: str):
    """`usageCount`: the list queries annotate it; a lone entry is counted on demand."""

    @strawberry_django.field(description=description)
    def usage_count(root, info: strawberry.Info) -> int:
        annotated = getattr(root, "usage_count", None)
        if annotated is None:
            return with_usage(actor_of(info)).get(pk=root.pk).usage_count
        return annotated

    return usage_count


@strawberry_django.type(registry_models.Tag, name="Tag", filters=TagFilter, order=VocabularyOrder)
class TagType(VocabularyFields, relay.Node):
    usage_count: int = _usage_count_field(selectors.tags_with_usage,
                                          "Models and datasets carrying this tag.")


@strawberry_django.type(registry_models.MetadataKey, name="MetadataKey",
                        filters=MetadataKeyFilter, order=VocabularyOrder)
class MetadataKeyType(VocabularyFields, relay.Node):
    usage_count: int = _usage_count_field(selectors.metadata_keys_with_usage,
                                          "Entries using this metadata name.")


@strawberry_django.type(registry_models.ArtifactFile, name="ArtifactFile")
class ArtifactFileType(relay.Node):
    path: str
    size: BigInt
    sha256: str
    content_type: str
    scan_status: ScanStatusEnum
    created_at: strawberry.auto
    last_downloaded_at: strawberry.auto
    scan_reports: ScanReportList = file_scan_reports_field()

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_files(queryset, actor_of(info))

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


@strawberry_django.type(registry_models.UploadSession, name="UploadSession")
class UploadSessionType(relay.Node):
    """A resumable upload: PUT each part to its URL, then completeUpload with the ETags."""

    path: str
    size: BigInt
    sha256: str
    part_count: int
    part_size: BigInt = strawberry_django.field(
        description="Every part but the last has this size; the last has the rest."
    )
    content_type: str
    state: UploadStateEnum
    created_at: strawberry.auto
    expires_at: strawberry.auto

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_upload_sessions(queryset, actor_of(info))

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

    @strawberry_django.field(only=["source_uri"])
    def source(self) -> str:
        return self.source_uri

    @strawberry_django.field(prefetch_related=["files"],
                             description="The worst scan status of the version's files.")
    def scan_status(self) -> ScanStatusEnum:
        return selectors.version_scan_status(list(self.files.all()))

    @strawberry_django.field(description="The whole version as one archive.")
    def archive_url(self) -> str:
        return archive_url(self)

    scan_reports: ScanReportList = version_scan_reports_field()


@strawberry_django.type(registry_models.ModelVersion, name="ModelVersion")
class ModelVersionType(VersionFields, relay.Node):
    model: Annotated["RegisteredModelType", strawberry.lazy("registry.graphql.types")]
    precision: str
    checkpoints: list[str]
    files: list[ArtifactFileType]
    dataset_versions: list[Annotated["DatasetVersionType",
                                     strawberry.lazy("registry.graphql.types")]]
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.ModelVersionMetadata)

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_model_versions(queryset, actor_of(info))

    @strawberry_django.field(only=["hardware"])
    def hardware(self) -> HardwareRequirementsType:
        return HardwareRequirementsType(**self.hardware)

    @strawberry_django.field(only=["container_images"])
    def container_images(self) -> list[ContainerImageType]:
        return [ContainerImageType(**image) for image in self.container_images]

    @strawberry_django.field(prefetch_related=["aliases"])
    def aliases(self) -> list[str]:
        return sorted(alias.name for alias in self.aliases.all())


@strawberry_django.type(registry_models.DatasetVersion, name="DatasetVersion")
class DatasetVersionType(VersionFields, relay.Node):
    dataset: Annotated["DatasetType", strawberry.lazy("registry.graphql.types")]
    files: list[ArtifactFileType]
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.DatasetVersionMetadata)
    model_versions: list[ModelVersionType] = strawberry_django.field(
        description="Model versions trained or evaluated on this dataset version."
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_dataset_versions(queryset, actor_of(info))


@strawberry_django.type(registry_models.ModelAlias, name="ModelAlias")
class ModelAliasType(relay.Node):
    name: str
    version: ModelVersionType
    updated_at: strawberry.auto

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_aliases(queryset, actor_of(info))


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
    tags: list[TagType]


@strawberry_django.type(registry_models.RegisteredModel, name="RegisteredModel",
                        filters=RegisteredModelFilter, order=RegisteredModelOrder)
class RegisteredModelType(CatalogFields, relay.Node):
    versions: DjangoListConnection[ModelVersionType] = strawberry_django.connection()
    aliases: list[ModelAliasType]
    datasets: list[Annotated["DatasetType", strawberry.lazy("registry.graphql.types")]]
    latest_version: ModelVersionType | None = strawberry_django.field(
        description="The newest version by semantic-version precedence."
    )
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.ModelMetadata)

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_catalog(queryset, actor_of(info))



@strawberry_django.type(registry_models.Dataset, name="Dataset", filters=DatasetFilter,
                        order=DatasetOrder)
class DatasetType(CatalogFields, relay.Node):
    versions: DjangoListConnection[DatasetVersionType] = strawberry_django.connection()
    latest_version: DatasetVersionType | None = strawberry_django.field(
        description="The newest version by semantic-version precedence."
    )
    metadata: list[MetadataEntryType] = _metadata_field(registry_models.DatasetMetadata)
    models: list[RegisteredModelType] = strawberry_django.field(
        description="Models that declare this dataset in their lineage."
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_catalog(queryset, actor_of(info))

