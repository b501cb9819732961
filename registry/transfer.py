"""Transfers: resumable uploads and download bookkeeping (services: writes, keyword-only).

One protocol on both backends. `upload_start` hands out one URL per part: presigned S3
UploadPart URLs, or our signed, expiring PUT endpoint on the filesystem. The client PUTs
each part and keeps the ETag header of each answer; `upload_complete` checks every part,
the total size and the sha256, and only then creates the file, through the same path as
uploadFile (`services.file_create_from_blob`).
"""

from datetime import timedelta
from typing import BinaryIO

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import CodedValidationError, CommonErrorCode
from config import metrics
from registry import selectors, services
from registry.catalog import kind_of
from registry.errors import RegistryErrorCode as Code
from registry.models import (
    ArtifactFile,
    UploadSession,
    UploadState,
    Version,
)
from registry.storage import keys
from registry.storage.backends import backend
from registry.storage.blobs import blob_for, orphans_delete
from registry.storage.filesystem import FilesystemBackend
from registry.storage.staging import PartsRejected, ReceivedPart
from registry.upload_housekeeping import open_upload_sessions_check
from registry.validators import validate_content_type, validate_sha256
from usage import services as usage_services

# A completion that has not finished this long after its session expired has died.
COMPLETING_GRACE = timedelta(hours=1)


def _error(field: str, message: str, code: str) -> CodedValidationError:
    return CodedValidationError({field: message}, code=code)


def upload_not_open() -> CodedValidationError:
    return _error("uploadId", "The upload is completed, aborted or expired.",
                  Code.UPLOAD_NOT_OPEN)


def session_version(session: UploadSession) -> Version:
    return session.model_version or session.dataset_version


def _validate_layout(size: int, sha256: str, part_count: int) -> int:
    """The part size for `size` bytes in `part_count` parts, within S3's limits."""
    if size < 1:
        raise _error("size", "A resumable upload has at least one byte.", Code.INVALID_UPLOAD)
    validate_sha256(sha256)
    if not 1 <= part_count <= keys.MAX_PARTS:
        raise _error("partCount", f"Use 1 to {keys.MAX_PARTS} parts.", Code.INVALID_UPLOAD)
    part_size = keys.part_size_for(size, part_count)
    if part_size * (part_count - 1) >= size:
        raise _error("partCount", f"{part_count} parts of {part_size} bytes leave the last "
                     "one empty; use fewer parts.", Code.INVALID_UPLOAD)
    if part_count > 1 and part_size < keys.MIN_PART_SIZE:
        raise _error("partCount", f"Parts but the last need at least {keys.MIN_PART_SIZE} "
                     "bytes; use fewer parts.", Code.INVALID_UPLOAD)
    if part_size > keys.MAX_PART_SIZE:
        raise _error("partCount", f"Parts may have at most {keys.MAX_PART_SIZE} bytes; "
                     "use more parts.", Code.INVALID_UPLOAD)
    return part_size


@transaction.atomic
def upload_start(*, actor: Actor, version: Version, path: str, size: int, sha256: str,
                 part_count: int, content_type: str = "") -> UploadSession:
    """Open a resumable upload of `size` bytes in `part_count` parts; nothing is visible
    until `upload_complete` has verified them."""
    services.file_add_check(actor=actor, version=version, path=path, size=size)
    validate_content_type(content_type)
    open_upload_sessions_check(actor)
    part_size = _validate_layout(size, sha256, part_count)
    version_field = kind_of(version).version_field
    session = UploadSession.objects.create(
        tenant=actor.tenant, **{version_field: version}, path=path, size=size, sha256=sha256,
        part_count=part_count, part_size=part_size,
        content_type=content_type or keys.guess_content_type(path),
        staging_key=keys.staging_key(actor.tenant), created_by=actor.user,
        expires_at=timezone.now() + timedelta(seconds=settings.UPLOAD_SESSION_TTL_SECONDS),
    )
    # Rolled back with the row if this fails; a storage-side leftover of a failed commit is
    # aborted by the periodic job (`dangling_uploads_abort`, `orphans_delete`).
    session.s3_upload_id = backend().multipart_start(session)
    session.save(update_fields=["s3_upload_id"])
    return session


def upload_session_get(*, actor: Actor, session_id: int) -> UploadSession:
    session = (selectors.upload_sessions_visible_to(actor)
               .select_related("tenant", "model_version", "dataset_version", "file")
               .filter(pk=session_id).first())
    if session is None:
        raise services.not_found("uploadId")
    return session


def upload_is_open(session: UploadSession) -> bool:
    return session.state == UploadState.OPEN and session.expires_at > timezone.now()


def upload_part_urls(session: UploadSession,
                     numbers: list[int] | None = None) -> list[tuple[int, str, int]]:
    """(part number, URL, size) of the parts asked for (all by default) while open."""
    if not upload_is_open(session):
        return []
    numbers = sorted({n for n in numbers if 1 <= n <= session.part_count}
                     if numbers is not None else range(1, session.part_count + 1))
    urls = backend().part_urls(session, numbers)
    return [(number, url, keys.part_length(session, number))
            for number, url in zip(numbers, urls, strict=True)]


def upload_parts_received(session: UploadSession) -> list[ReceivedPart]:
    """The parts the storage holds, so a client resuming knows what is left to send."""
    if not upload_is_open(session):
        return []
    return backend().parts_received(session)


def upload_part_put(*, token: str, stream: BinaryIO, length: int | None) -> str:
    """The filesystem's UploadPart: stores one part sent to a signed URL; its ETag.

    The signed URL is the credential, as a presigned S3 URL is: no other authentication.
    """
    try:
        session_id, number = keys.part_token_load(token)
    except signing.BadSignature as error:  # forged, or older than a session lives
        raise _error("url", "The part URL is invalid or expired.",
                     CommonErrorCode.PERMISSION_DENIED) from error
    session = UploadSession.objects.filter(pk=session_id).first()
    store = backend()
    if (session is None or not upload_is_open(session)
            or not isinstance(store, FilesystemBackend)):
        raise upload_not_open()
    expected = keys.part_length(session, number)
    if length != expected:
        raise _error("Content-Length", f"Part {number} has exactly {expected} bytes; got "
                     f"{length}.", Code.INVALID_PART)
    try:
        etag = store.part_write(session, number, stream, still_open=lambda: upload_is_open(
            UploadSession.objects.get(pk=session.pk)))
    except PartsRejected as error:
        raise _error("body", str(error), Code.INVALID_PART) from error
    if etag is None:
        raise upload_not_open()
    return etag


def _requested_parts(session: UploadSession, parts: list[tuple[int, str]]) -> dict[int, str]:
    numbers = [number for number, _ in parts]
    problem = ""
    if len(set(numbers)) != len(numbers):
        problem = "A part number appears twice."
    elif missing := sorted(set(range(1, session.part_count + 1)) - set(numbers)):
        problem = f"Parts {missing[:10]} are missing (of {session.part_count})."
    elif unknown := sorted(set(numbers) - set(range(1, session.part_count + 1))):
        problem = f"Parts {unknown[:10]} are not in this upload of {session.part_count}."
    if problem:
        raise _error("parts", problem, Code.INVALID_PART)
    return {number: etag.strip().strip('"') for number, etag in parts}


def _completed_file(session: UploadSession) -> ArtifactFile:
    if session.file is None:  # completed, and the file deleted since
        raise upload_not_open()
    return session.file


def _set_state(session: UploadSession, state: str) -> None:
    UploadSession.objects.filter(pk=session.pk).update(state=state)
    session.state = state


def upload_complete(*, actor: Actor, session_id: int,
                    parts: list[tuple[int, str]]) -> ArtifactFile:
    """Verify the parts, the size and the sha256, then create the file; the same file again
    when the upload is already complete. A wrong or missing part leaves the upload open to
    be fixed; a size or sha256 mismatch aborts it."""
    services.require_scope(actor)
    session = upload_session_get(actor=actor, session_id=session_id)
    if session.state == UploadState.COMPLETED:
        return _completed_file(session)
    claimed = UploadSession.objects.filter(
        pk=session.pk, state=UploadState.OPEN, expires_at__gt=timezone.now()
    ).update(state=UploadState.COMPLETING)
    if not claimed:
        session = upload_session_get(actor=actor, session_id=session_id)
        if session.state == UploadState.COMPLETED:  # a concurrent completion won
            return _completed_file(session)
        raise upload_not_open()
    try:
        requested = _requested_parts(session, parts)
        staged = backend().multipart_finish(session, requested)
    except PartsRejected as error:
        _set_state(session, UploadState.OPEN)
        raise _error("parts", str(error), Code.INVALID_PART) from error
    except BaseException:
        _set_state(session, UploadState.OPEN)
        raise
    if (staged.size, staged.sha256) != (session.size, session.sha256):
        staged.discard()
        _set_state(session, UploadState.ABORTED)
        raise _error("sha256", f"Received {staged.size} bytes with sha256 {staged.sha256}; "
                     f"declared {session.size} bytes with sha256 {session.sha256}. The upload "
                     "is aborted: start again.", Code.INTEGRITY_MISMATCH)
    try:
        with blob_for(tenant=session.tenant, staged=staged) as blob:
            artifact = services.file_create_from_blob(
                actor=actor, version=session_version(session), path=session.path, blob=blob,
                content_type=session.content_type, upload_session_id=session.pk,
            )
            UploadSession.objects.filter(pk=session.pk).update(state=UploadState.COMPLETED,
                                                               file=artifact)
    except BaseException:
        # The verified bytes went with the staging: there is nothing left to resume.
        _set_state(session, UploadState.ABORTED)
        raise
    return artifact


def upload_abort(*, actor: Actor, session_id: int) -> UploadSession:
    """Abort an open upload and drop its parts; aborting twice is harmless."""
    services.require_scope(actor)
    session = upload_session_get(actor=actor, session_id=session_id)
    if session.state == UploadState.ABORTED:
        return session
    if not UploadSession.objects.filter(pk=session.pk, state=UploadState.OPEN).update(
            state=UploadState.ABORTED):
        raise upload_not_open()
    session.state = UploadState.ABORTED
    backend().multipart_abort(session)
    metrics.UPLOADS_ABORTED.labels("client").inc()
    return session


def upload_sessions_expire() -> dict[str, int]:
    """The periodic job: abort expired sessions and whatever uploads left in storage."""
    now = timezone.now()
    store = backend()
    stale = UploadSession.objects.filter(
        Q(state=UploadState.OPEN, expires_at__lte=now)
        | Q(state=UploadState.COMPLETING, expires_at__lte=now - COMPLETING_GRACE)
    )
    aborted = 0
    for session in stale.iterator():
        if UploadSession.objects.filter(pk=session.pk, state=session.state).update(
                state=UploadState.ABORTED):
            store.multipart_abort(session)
            aborted += 1
    metrics.UPLOADS_ABORTED.labels("expired").inc(aborted)
    ttl = timedelta(seconds=settings.UPLOAD_SESSION_TTL_SECONDS)
    return {
        "sessions_aborted": aborted,
        "storage_uploads_aborted": store.dangling_uploads_abort(older_than=now - ttl),
        "staging_objects_deleted": len(orphans_delete(staging_only=True)),
    }


def file_download_record(*, actor: Actor, artifact: ArtifactFile) -> None:
    """Count one download of `artifact` by `actor` today and remember when it was last
    downloaded."""
    with transaction.atomic():
        usage_services.pull_record(actor=actor, artifact=artifact)
        ArtifactFile.objects.filter(pk=artifact.pk).update(last_downloaded_at=timezone.now())
    metrics.record_transfer(metrics.PULLS, metrics.PULLED_BYTES, tenant=artifact.tenant.slug,
                            size=artifact.size)
