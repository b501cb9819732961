import strawberry
from strawberry import UNSET, relay
from strawberry.scalars import JSON

from registry.graphql.enums import StatusEnum, VersionStateEnum, VisibilityEnum
from registry.graphql.scalars import BigInt


@strawberry.input
class MetadataEntryInput:
    name: str
    value: str


@strawberry.input(description="Names to add to and remove from a list.")
class NameListChangesInput:
    add: list[str] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Objects (global ids) to add to and remove from a list.")
class IdListChangesInput:
    add: list[relay.GlobalID] = strawberry.field(default_factory=list)
    remove: list[relay.GlobalID] = strawberry.field(default_factory=list)


@strawberry.input(description="Metadata entries to set (add or replace) and names to remove.")
class MetadataChangesInput:
    add: list[MetadataEntryInput] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class CatalogCreateFields:
    name: str
    description: str = ""
    readme: str = ""
    project_name: str = ""
    status: StatusEnum = StatusEnum.TRAINING
    visibility: VisibilityEnum = VisibilityEnum.PRIVATE
    license: str = ""
    author: str = ""
    organization: str = ""
    category: str = ""
    architecture: str = ""
    framework: str = ""
    tags: list[str] = strawberry.field(default_factory=list)
    metadata: list[MetadataEntryInput] = strawberry.field(default_factory=list)
    users: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Users of the tenant to share the object with (view)."
    )


@strawberry.input
class CreateModelInput(CatalogCreateFields):
    datasets: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Datasets this model was trained or evaluated on."
    )


@strawberry.input
class CreateDatasetInput(CatalogCreateFields):
    pass


@strawberry.input
class CatalogUpdateFields:
    id: relay.GlobalID
    name: str | None = UNSET
    description: str | None = UNSET
    readme: str | None = UNSET
    project_name: str | None = UNSET
    status: StatusEnum | None = UNSET
    visibility: VisibilityEnum | None = UNSET
    license: str | None = UNSET
    author: str | None = UNSET
    organization: str | None = UNSET
    category: str | None = UNSET
    architecture: str | None = UNSET
    framework: str | None = UNSET
    tags: NameListChangesInput | None = UNSET
    metadata: MetadataChangesInput | None = UNSET
    users: IdListChangesInput | None = UNSET


@strawberry.input
class UpdateModelInput(CatalogUpdateFields):
    datasets: IdListChangesInput | None = UNSET


@strawberry.input
class UpdateDatasetInput(CatalogUpdateFields):
    pass


@strawberry.input
class HardwareRequirementsInput:
    min_memory_mb: BigInt | None = UNSET
    min_cpu_cores: int | None = UNSET
    gpu_memory_mb: BigInt | None = UNSET
    disk_mb: BigInt | None = UNSET
    accelerators: list[str] | None = UNSET


@strawberry.input
class ContainerImageInput:
    registry: str
    repository: str
    digest: str


@strawberry.input
class VersionCreateFields:
    version: str
    description: str = ""
    source: str = strawberry.field(default="", description="Training run URI; never fetched.")
    metrics: JSON = strawberry.field(default_factory=dict, description="name → number")
    metadata: list[MetadataEntryInput] = strawberry.field(default_factory=list)


@strawberry.input
class CreateModelVersionInput(VersionCreateFields):
    model_id: relay.GlobalID
    precision: str = ""
    hardware: HardwareRequirementsInput | None = UNSET
    checkpoints: list[str] = strawberry.field(default_factory=list)
    container_images: list[ContainerImageInput] = strawberry.field(default_factory=list)
    dataset_versions: list[relay.GlobalID] = strawberry.field(default_factory=list)


@strawberry.input
class CreateDatasetVersionInput(VersionCreateFields):
    dataset_id: relay.GlobalID


@strawberry.input
class VersionUpdateFields:
    id: relay.GlobalID
    description: str | None = UNSET
    source: str | None = strawberry.field(default=UNSET,
                                          description="Training run URI; never fetched.")
    metrics: JSON | None = strawberry.field(default=UNSET, description="name → number")
    state: VersionStateEnum | None = UNSET
    metadata: MetadataChangesInput | None = UNSET


@strawberry.input
class UpdateModelVersionInput(VersionUpdateFields):
    precision: str | None = UNSET
    hardware: HardwareRequirementsInput | None = strawberry.field(
        default=UNSET, description="Replaces the version's hardware requirements.")
    checkpoints: list[str] | None = UNSET
    container_images: list[ContainerImageInput] | None = UNSET
    dataset_versions: IdListChangesInput | None = strawberry.field(
        default=UNSET, description="Lineage: dataset versions to link and to unlink.")


@strawberry.input
class UpdateDatasetVersionInput(VersionUpdateFields):
    pass


@strawberry.input
class SetVersionStateInput:
    version_id: relay.GlobalID
    state: VersionStateEnum


@strawberry.input(description="A part of a resumable upload, as the PUT of its bytes answered.")
class UploadPartInput:
    part_number: int
    etag: str = strawberry.field(description="The ETag header of the part's PUT answer.")


@strawberry.input
class VocabularyEntryInput:
    name: str
    description: str = ""
