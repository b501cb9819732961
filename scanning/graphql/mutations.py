import strawberry
import strawberry_django
from strawberry import relay

from accounts.errors import CodedValidationError
from config.graphql_context import actor_of, decode_id
from registry.graphql.ids import version_from_global_id
from registry.graphql.types import ArtifactFileType
from scanning import services
from scanning.errors import ScanningErrorCode


@strawberry.type(name="RescanQueued")
class RescanQueuedType:
    files: list[ArtifactFileType] = strawberry.field(
        description="The files queued for a scan, as they were when queued."
    )


@strawberry.type
class Mutation:
    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Scan a file, or every file of a version, again (owners and tenant admins).",
    )
    def rescan(self, info: strawberry.Info, file_id: relay.GlobalID | None = None,
               version_id: relay.GlobalID | None = None) -> RescanQueuedType:
        actor = actor_of(info)
        if (file_id is None) == (version_id is None):
            raise CodedValidationError("Give exactly one of fileId and versionId.",
                                       code=ScanningErrorCode.INVALID_RESCAN_TARGET)
        if file_id is not None:
            artifact = services.file_rescan(
                actor=actor, file_id=decode_id(file_id, "ArtifactFile", field="fileId")
            )
            return RescanQueuedType(files=[artifact])
        version = version_from_global_id(actor, version_id)
        return RescanQueuedType(files=services.version_rescan(actor=actor, version=version))

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Make a flagged file downloadable, with a reason (tenant admins).",
    )
    def release_file(self, info: strawberry.Info, file_id: relay.GlobalID,
                     reason: str) -> ArtifactFileType:
        return services.file_release(
            actor=actor_of(info), file_id=decode_id(file_id, "ArtifactFile", field="fileId"),
            reason=reason,
        )
