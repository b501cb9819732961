"""Resumable uploads: startUpload → PUT each part → completeUpload (or abortUpload)."""

import strawberry
import strawberry_django
from strawberry import relay

from config.graphql_context import actor_of, decode_id
from registry import transfer
from registry.graphql.ids import version_from_global_id
from registry.graphql.inputs import UploadPartInput
from registry.graphql.scalars import BigInt
from registry.graphql.types import ArtifactFileType, UploadSessionType


@strawberry.type
class Mutation:
    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Open a resumable upload of `size` bytes in `partCount` parts: its "
                    "`partUrls` take a PUT each. Nothing is visible until completeUpload.",
    )
    def start_upload(self, info: strawberry.Info, version_id: relay.GlobalID, path: str,
                     size: BigInt, sha256: str, part_count: int,
                     content_type: str | None = None) -> UploadSessionType:
        actor = actor_of(info)
        return transfer.upload_start(
            actor=actor, version=version_from_global_id(actor, version_id), path=path,
            size=size, sha256=sha256, part_count=part_count, content_type=content_type or "",
        )

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Check every part, the size and the sha256, then create the file. "
                    "Completing again returns the same file.",
    )
    def complete_upload(self, info: strawberry.Info, upload_id: relay.GlobalID,
                        parts: list[UploadPartInput]) -> ArtifactFileType:
        return transfer.upload_complete(
            actor=actor_of(info),
            session_id=decode_id(upload_id, "UploadSession", field="uploadId"),
            parts=[(part.part_number, part.etag) for part in parts],
        )

    @strawberry_django.mutation(handle_django_errors=True,
                                description="Abort an open upload and drop its parts.")
    def abort_upload(self, info: strawberry.Info, upload_id: relay.GlobalID
                     ) -> UploadSessionType:
        return transfer.upload_abort(
            actor=actor_of(info),
            session_id=decode_id(upload_id, "UploadSession", field="uploadId"),
        )
