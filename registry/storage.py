"""Blobs in object storage: content-addressed keys, streamed writes, reference counting.

Keys are made here, never from anything a client sends:

    tenants/<tenant id>/blobs/<sha256[:2]>/<sha256>   a blob, shared by the tenant's files
    tenants/<tenant id>/staging/<uuid>                an upload whose bytes are not verified yet

Two backends behind one interface: the local filesystem (the embedded default) and S3
(django-storages' S3Storage; its boto3 client does the multipart, copy and presigning work).
A blob's row and its object are created together (`blob_for`) and deleted together, each
under a per-key lock, so a concurrent upload of the same bytes and a garbage collection
cannot undo each other. A blob's refcount is the number of files pointing at it.
"""

import errno
import fcntl
import functools
import hashlib
import io
import json
import mimetypes
import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from accounts.models import Tenant
from registry import sha256_state
from registry.errors import CodedValidationError
from registry.errors import RegistryErrorCode as Code
from registry.models import ArtifactFile, Blob, UploadSession, UploadState
from registry.urls_public import absolute

# One read or write: large enough that Python's per-call overhead disappears, small enough
# that many transfers in flight stay within a worker's memory budget.
CHUNK_SIZE = 2**20
# S3's multipart limits, applied on both backends so a client sees one protocol.
MIN_PART_SIZE = 5 * 2**20
MAX_PART_SIZE = 5 * 2**30
MAX_PARTS = 10_000
ACTIVE_UPLOAD_STATES = (UploadState.OPEN, UploadState.COMPLETING)
# Objects nothing accounts for are left alone this long: an upload may still be writing them.
ORPHAN_MIN_AGE = timedelta(hours=6)
PART_TOKEN_SALT = "registry.upload-part"
# Parts in flight per S3 upload; read from their file as they are sent.
S3_TRANSFER = TransferConfig(multipart_threshold=64 * 2**20, multipart_chunksize=64 * 2**20,
                             max_concurrency=4)
# Server-side copies: one CopyObject up to S3's 5 GiB limit (fewer requests; emulators such as
# moto re-read the whole source for every UploadPartCopy), parallel parts beyond it.
S3_COPY = TransferConfig(multipart_threshold=MAX_PART_SIZE, multipart_chunksize=512 * 2**20,
                         max_concurrency=4)


def blob_key(tenant: Tenant, sha256: str) -> str:
    """The storage key of a blob: derived from its content by the server, never by a client."""
    return f"tenants/{tenant.pk}/blobs/{sha256[:2]}/{sha256}"


def staging_key(tenant: Tenant) -> str:
    return f"tenants/{tenant.pk}/staging/{uuid.uuid4().hex}"


def staging_root(key: str) -> str | None:
    """The staging key a stored key belongs to (itself, or the folder of a resumable upload)."""
    parts = key.split("/")
    if len(parts) >= 4 and parts[0] == "tenants" and parts[2] == "staging":
        return "/".join(parts[:4])
    return None


def guess_content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def file_too_large() -> CodedValidationError:
    return CodedValidationError(
        {"file": f"The file exceeds the maximum file size of "
                 f"{settings.REGISTRY_MAX_FILE_SIZE} bytes."},
        code=Code.FILE_TOO_LARGE,
    )


def quota_check(*, tenant: Tenant, incoming_bytes: int, incoming_files: int = 1,
                exclude_session_id: int | None = None) -> None:
    """Refuse what would exceed the largest file size or the tenant's quota.

    Open resumable uploads hold their declared size and one file of the quota until they
    complete or expire, so parallel sessions cannot overcommit it.
    """
    if incoming_bytes > settings.REGISTRY_MAX_FILE_SIZE:
        raise file_too_large()
    stored = ArtifactFile.objects.filter(tenant=tenant).aggregate(files=Count("pk"),
                                                                   bytes=Sum("size"))
    reserved = (UploadSession.objects
                .filter(tenant=tenant, state__in=ACTIVE_UPLOAD_STATES,
                        expires_at__gt=timezone.now())
                .exclude(pk=exclude_session_id)
                .aggregate(files=Count("pk"), bytes=Sum("size")))
    total_bytes = (stored["bytes"] or 0) + (reserved["bytes"] or 0) + incoming_bytes
    total_files = stored["files"] + reserved["files"] + incoming_files
    if total_bytes > tenant.quota_bytes or total_files > tenant.quota_files:
        raise CodedValidationError(
            {"file": f"The tenant's quota of {tenant.quota_bytes} bytes and "
                     f"{tenant.quota_files} files would be exceeded."},
            code=Code.QUOTA_EXCEEDED,
        )


class HashingReader:
    """Reads a stream, computing its sha256 and size on the way; stops past `limit` bytes."""

    def __init__(self, stream: BinaryIO, limit: int | None = None,
                 digest: "hashlib._Hash | sha256_state.ResumableSha256 | None" = None,
                 size: int = 0) -> None:
        self.stream = stream
        self.limit = settings.REGISTRY_MAX_FILE_SIZE if limit is None else limit
        self.digest = hashlib.sha256() if digest is None else digest  # or one resumed
        self.size = size  # of the bytes `digest` has seen

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        chunk = self.stream.read(size if size > 0 else CHUNK_SIZE)
        self.size += len(chunk)
        if self.size > self.limit:
            raise file_too_large()
        self.digest.update(chunk)
        return chunk

    def drain(self) -> "HashingReader":
        while self.read(CHUNK_SIZE):
            pass
        return self

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


def received_digest(stream: BinaryIO) -> tuple[str, int]:
    """The sha256 and size of a received file, size-limited: hashed as it was received
    when its upload handler did (`sha256_digest`, see registry.transfer), else read here."""
    digest = getattr(stream, "sha256_digest", None)
    if digest is None:
        reader = HashingReader(stream).drain()
        return reader.sha256, reader.size
    if stream.size > settings.REGISTRY_MAX_FILE_SIZE:
        raise file_too_large()
    return digest.hexdigest(), stream.size


@dataclass
class Staged:
    """Bytes received and hashed, not yet a blob."""

    sha256: str
    size: int
    put: Callable[[str], None]  # store the bytes under a blob key
    discard: Callable[[], None] = lambda: None  # remove what staging is left (idempotent)


@dataclass(frozen=True)
class ReceivedPart:
    number: int
    etag: str
    size: int


class PartsRejected(Exception):
    """A part that does not match the upload: cut short, unknown, or of the wrong size."""


def part_size_for(size: int, part_count: int) -> int:
    """Every part but the last has this size; the last has the rest."""
    return -(-size // part_count)


def part_length(session: UploadSession, number: int) -> int:
    if number < session.part_count:
        return session.part_size
    return session.size - session.part_size * (session.part_count - 1)


def part_token(session: UploadSession, number: int) -> str:
    return signing.dumps([session.pk, number], salt=PART_TOKEN_SALT, compress=False)


def part_token_load(token: str) -> tuple[int, int]:
    """(session id, part number) of a token we signed; BadSignature when forged or expired."""
    session_id, number = signing.loads(token, salt=PART_TOKEN_SALT,
                                       max_age=settings.UPLOAD_SESSION_TTL_SECONDS)
    return int(session_id), int(number)


def _seconds_left(session: UploadSession) -> int:
    return max(1, int((session.expires_at - timezone.now()).total_seconds()))


# --- Backends ------------------------------------------------------------------------------

class FilesystemBackend:
    """Files under MEDIA_ROOT. Resumable parts are written in place into one preallocated
    file, so completing an upload only hashes it and renames it under its blob key."""

    name = "filesystem"

    def __init__(self, storage: FileSystemStorage) -> None:
        self.storage = storage

    def path(self, key: str) -> Path:
        return Path(self.storage.path(key))

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")  # noqa: SIM115 - the caller closes it

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def iter_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        root = Path(self.storage.location)
        for directory, _, names in os.walk(self.path(prefix)):
            for name in names:
                path = Path(directory, name)
                yield (path.relative_to(root).as_posix(),
                       datetime.fromtimestamp(path.stat().st_mtime, tz=UTC))

    def download_url(self, key: str, filename: str, content_type: str) -> str | None:
        return None  # served by our own view

    def _move(self, source: Path, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            # Another filesystem: one copy (in the kernel), renamed into place when complete.
            partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
            try:
                shutil.copyfile(source, partial)
                os.replace(partial, target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        if self.storage.file_permissions_mode is not None:
            os.chmod(target, self.storage.file_permissions_mode)

    def stage_stream(self, tenant: Tenant, stream: BinaryIO) -> Staged:
        """Copies `stream` once, into a staging file beside the blobs, hashing on the way.

        A request body Django spooled to a temporary file is moved under its blob key: its
        bytes are not written a second time, nor read back when the upload handler hashed
        them as it spooled them.
        """
        temporary_path = getattr(stream, "temporary_file_path", None)
        if temporary_path:
            sha256, size = received_digest(stream)
            return Staged(sha256=sha256, size=size,
                          put=lambda key: self._move(Path(temporary_path()), key))
        path = self.path(staging_key(tenant))
        path.parent.mkdir(parents=True, exist_ok=True)
        reader = HashingReader(stream)
        try:
            with open(path, "xb") as staging:
                while chunk := reader.read(CHUNK_SIZE):
                    staging.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(sha256=reader.sha256, size=reader.size,
                      put=lambda key: self._move(path, key),
                      discard=lambda: path.unlink(missing_ok=True))

    # The resumable protocol's storage side, in the session's staging folder: `data`, every
    # part written in place at its offset; a marker per part received, part-<number>.<etag>;
    # lock-<number>, held by the one request writing or hashing that part; and the SHA-256
    # of the parts received in order so far (PartsDigest), which part requests advance as
    # parts arrive (the next part in order is hashed as it is received, later ones read back
    # once the parts before them are in), so completing an upload has little left to hash.

    def multipart_start(self, session: UploadSession) -> str:
        directory = self.path(session.staging_key)
        directory.mkdir(parents=True)
        with open(directory / "data", "xb") as data:
            data.truncate(session.size)  # sparse until the parts land
        return ""

    def part_urls(self, session: UploadSession, numbers: Iterable[int]) -> list[str]:
        return [absolute(reverse("registry:upload-part", args=[part_token(session, number)]))
                for number in numbers]

    def part_write(self, session: UploadSession, number: int, stream: BinaryIO,
                   still_open: Callable[[], bool]) -> str | None:
        """Writes part `number` from `stream` (read with `readinto`) at its offset; its ETag,
        or None when the session closed meanwhile. Raises PartsRejected when the stream ends
        early or another request is writing the same part."""
        directory = self.path(session.staging_key)
        try:
            with _part_lock(directory, number) as held:
                if not held:
                    raise PartsRejected(f"Part {number} is being received by another "
                                        "request; send it again when that one ends.")
                for stale in _part_markers(directory, number):
                    stale.unlink(missing_ok=True)  # a rewrite invalidates the previous ETag
                etag = self._part_receive(session, number, stream, still_open)
        except FileNotFoundError:  # aborted meanwhile: the staging folder is gone
            return None
        if etag is not None:
            PartsDigest(self, session).advance()
        return etag

    def _part_receive(self, session: UploadSession, number: int, stream: BinaryIO,
                      still_open: Callable[[], bool]) -> str | None:
        directory = self.path(session.staging_key)
        with open(directory / "data", "r+b") as data:
            # Completion takes the lock exclusively: no part lands while it verifies.
            fcntl.flock(data, fcntl.LOCK_SH)
            if not still_open():
                return None
            data.seek(session.part_size * (number - 1))
            remaining = part_length(session, number)
            buffer = memoryview(bytearray(CHUNK_SIZE))
            with PartsDigest(self, session).receiving(number) as part_digest:
                while remaining:
                    count = stream.readinto(buffer[:min(CHUNK_SIZE, remaining)])
                    if not count:
                        raise PartsRejected(f"Part {number} ended {remaining} bytes early.")
                    if part_digest:
                        part_digest.update(buffer[:count])
                    data.write(buffer[:count])
                    remaining -= count
                etag = secrets.token_hex(16)
                (directory / f"part-{number:05d}.{etag}").touch()
                if part_digest:
                    part_digest.received(etag)
        return etag

    def parts_received(self, session: UploadSession) -> list[ReceivedPart]:
        parts = []
        for marker in sorted(self.path(session.staging_key).glob("part-*.*")):
            number, etag = _marker_part(marker)
            parts.append(ReceivedPart(number, etag, part_length(session, number)))
        return parts

    def multipart_finish(self, session: UploadSession, parts: dict[int, str]) -> Staged:
        directory = self.path(session.staging_key)
        try:
            data = open(directory / "data", "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as error:
            raise PartsRejected("The upload's parts are gone.") from error
        with data:
            fcntl.flock(data, fcntl.LOCK_EX)
            received = {(part.number, part.etag) for part in self.parts_received(session)}
            for number, etag in sorted(parts.items()):
                if (number, etag) not in received:
                    raise PartsRejected(f"Part {number} with ETag {etag!r} was not received.")
            reader = PartsDigest(self, session).finish(data, [parts[number] for number in
                                                              sorted(parts)])
        return Staged(sha256=reader.sha256, size=reader.size,
                      put=lambda key: self._move(directory / "data", key),
                      discard=lambda: shutil.rmtree(directory, ignore_errors=True))

    def multipart_abort(self, session: UploadSession) -> None:
        shutil.rmtree(self.path(session.staging_key), ignore_errors=True)

    def dangling_uploads_abort(self, older_than: datetime) -> int:
        return 0  # a resumable upload's folder is a plain staging object: see orphans_delete


@contextmanager
def _flock(path: Path, blocking: bool) -> Iterator[bool]:
    """An exclusive flock on `path`, created if need be; yields whether it is held."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(descriptor)


def _part_markers(directory: Path, number: int) -> list[Path]:
    return list(directory.glob(f"part-{number:05d}.*"))


def _marker_part(marker: Path) -> tuple[int, str]:
    """(part number, ETag) of a marker named part-<number>.<etag>."""
    number, etag = marker.name.removeprefix("part-").split(".", 1)
    return int(number), etag


def _part_lock(directory: Path, number: int) -> Iterator[bool]:
    return _flock(directory / f"lock-{number:05d}", blocking=False)


class PartsDigest:
    """The SHA-256 of a filesystem upload's parts 1..k, saved in its staging folder with a
    chain of their ETags. Completion resumes it only when the parts it completes with begin
    with those very ETags: a part sent again gets a new one, so nothing hashed before a
    rewrite is trusted after it."""

    STATE = "sha256-state"
    LOCK = "sha256.lock"
    CHAIN_START = ""

    def __init__(self, backend: FilesystemBackend, session: UploadSession) -> None:
        self.session = session
        self.directory = backend.path(session.staging_key)

    def advance(self) -> None:
        """Hash the parts that follow the saved prefix, as far as they have arrived in order.

        Best effort: stops at a part not received yet or held by another request. Whoever
        holds the digest looks again after letting it go, so a part whose request found it
        busy is not left behind.
        """
        if not sha256_state.available():
            return
        try:
            while self._next_part_received():
                with _flock(self.directory / self.LOCK, blocking=False) as held:
                    if not held or not self._extend():
                        return
        except FileNotFoundError:  # completed or aborted meanwhile
            return
        except PartsRejected:  # the data was cut short: completion will find out
            return

    @contextmanager
    def receiving(self, number: int) -> Iterator["PartDigest | None"]:
        """The digest to update with part `number`'s bytes on their way to the file, when the
        parts before it are hashed and no other request is hashing: then nothing has to read
        them back. None otherwise; `advance` hashes the part later.

        Called with the upload's data locked for sharing, which completion's exclusive lock
        excludes, so completion never holds the data while waiting for the digest held here.
        """
        if not sha256_state.available():
            yield None
            return
        with _flock(self.directory / self.LOCK, blocking=False) as held:
            if held:
                hashed, chain, context = self._load()
                if hashed == number - 1:
                    yield PartDigest(self, number, chain, sha256_state.ResumableSha256(context))
                    return
        yield None

    def finish(self, data: BinaryIO, etags: list[str]) -> HashingReader:
        """The whole upload's digest: the saved prefix if `etags` (of every part, in order)
        begin with its parts, and the rest read from `data`."""
        with _flock(self.directory / self.LOCK, blocking=True):
            hashed, chain, context = self._load()
            if context is None or chain != self._chain_of(etags[:hashed]):
                hashed, digest = 0, hashlib.sha256()
            else:
                digest = sha256_state.ResumableSha256(context)
            offset = min(hashed * self.session.part_size, self.session.size)
            data.seek(offset)
            return HashingReader(data, limit=self.session.size, digest=digest,
                                 size=offset).drain()

    def _load(self) -> tuple[int, str, bytes | None]:
        """(parts hashed, chain of their ETags, SHA-256 state after them)."""
        try:
            state = json.loads((self.directory / self.STATE).read_text())
        except FileNotFoundError:
            return 0, self.CHAIN_START, None
        return state["parts"], state["chain"], bytes.fromhex(state["context"])

    def _save(self, hashed: int, chain: str, digest: sha256_state.ResumableSha256) -> None:
        partial = self.directory / f"{self.STATE}.{uuid.uuid4().hex}"
        partial.write_text(json.dumps({"parts": hashed, "chain": chain,
                                       "context": digest.state().hex()}))
        os.replace(partial, self.directory / self.STATE)

    @staticmethod
    def _chain(chain: str, etag: str) -> str:
        return hashlib.sha256(f"{chain}:{etag}".encode()).hexdigest()

    @classmethod
    def _chain_of(cls, etags: list[str]) -> str:
        return functools.reduce(cls._chain, etags, cls.CHAIN_START)

    def _etag(self, number: int) -> str | None:
        markers = _part_markers(self.directory, number)
        return _marker_part(markers[0])[1] if len(markers) == 1 else None

    def _next_part_received(self) -> bool:
        number = self._load()[0] + 1
        return number <= self.session.part_count and self._etag(number) is not None

    def _extend(self) -> bool:
        """Hash the next parts while they are there; whether it hashed any."""
        first, chain, context = self._load()
        hashed = first
        digest = sha256_state.ResumableSha256(context)
        buffer = memoryview(bytearray(CHUNK_SIZE))
        with open(self.directory / "data", "rb", buffering=0) as data:
            for number in range(first + 1, self.session.part_count + 1):
                with _part_lock(self.directory, number) as held:
                    etag = self._etag(number) if held else None
                    if etag is None:
                        break
                    data.seek(self.session.part_size * (number - 1))
                    remaining = part_length(self.session, number)
                    while remaining:
                        count = data.readinto(buffer[:min(CHUNK_SIZE, remaining)])
                        if not count:
                            raise PartsRejected("The upload's data ends before its parts do.")
                        digest.update(buffer[:count])
                        remaining -= count
                hashed, chain = number, self._chain(chain, etag)
                self._save(hashed, chain, digest)
        return hashed > first


@dataclass
class PartDigest:
    """The digest of the parts before `number`, to be extended with part `number`'s bytes
    as they are received; saved with the part's ETag once it is complete."""

    parts_digest: PartsDigest
    number: int
    chain: str
    digest: sha256_state.ResumableSha256

    def update(self, data: memoryview) -> None:
        self.digest.update(data)

    def received(self, etag: str) -> None:
        self.parts_digest._save(self.number, PartsDigest._chain(self.chain, etag), self.digest)


class S3ObjectReader(io.RawIOBase):
    """A seekable, read-only S3 object: one streamed GET from the current position, opened
    again with a Range after a seek, so scanners can jump around a multi-GB checkpoint and
    sequential readers fetch each byte once."""

    def __init__(self, client, bucket: str, key: str) -> None:
        super().__init__()
        self.client, self.bucket, self.key = client, bucket, key
        try:
            self.size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                raise FileNotFoundError(key) from error
            raise
        self.position = 0
        self.body = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position != self.position:
            self._close_body()
            self.position = position
        return position

    def read(self, size: int = -1) -> bytes:
        if self.position >= self.size:
            return b""
        if self.body is None:
            self.body = self.client.get_object(Bucket=self.bucket, Key=self.key,
                                               Range=f"bytes={self.position}-")["Body"]
        data = self.body.read(size if size is not None and size >= 0 else None)
        self.position += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _close_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def close(self) -> None:
        self._close_body()
        super().close()


@functools.lru_cache(maxsize=8)
def _presigning_client(storage: S3Storage, endpoint_url: str):
    return storage._create_session().client(
        "s3", region_name=storage.region_name, use_ssl=storage.use_ssl,
        endpoint_url=endpoint_url, config=storage.client_config, verify=storage.verify,
    )


class S3Backend:
    """Objects in the S3Storage's bucket, through its boto3 client."""

    name = "s3"

    def __init__(self, storage: S3Storage) -> None:
        self.storage = storage
        self.client = storage.connection.meta.client
        self.bucket = storage.bucket_name
        # URLs that clients follow are signed for the endpoint they reach, when the server
        # reaches S3 under another name (http://minio:9000 inside docker-compose).
        public = settings.AWS_S3_PUBLIC_ENDPOINT_URL
        self.presigner = _presigning_client(storage, public) if public else self.client

    def _object_parameters(self, key: str) -> dict:
        return self.storage.get_object_parameters(key)  # e.g. server-side encryption

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def open(self, key: str) -> BinaryIO:
        return S3ObjectReader(self.client, self.bucket, key)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def iter_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                           Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"], entry["LastModified"]

    def download_url(self, key: str, filename: str, content_type: str) -> str | None:
        return self.presigner.generate_presigned_url("get_object", Params={
            "Bucket": self.bucket, "Key": key,
            "ResponseContentDisposition": content_disposition_header(True, filename),
            "ResponseContentType": content_type,
        }, ExpiresIn=settings.DOWNLOAD_URL_TTL_SECONDS)

    def _copy(self, source_key: str, key: str) -> None:
        # Server side, in parallel parts when large: no byte passes through this process.
        self.client.copy({"Bucket": self.bucket, "Key": source_key}, self.bucket, key,
                         ExtraArgs=self._object_parameters(key), Config=S3_COPY)

    def _upload(self, stream: BinaryIO, key: str) -> None:
        arguments = {"ExtraArgs": self._object_parameters(key), "Config": S3_TRANSFER}
        temporary_path = getattr(stream, "temporary_file_path", None)
        if temporary_path:
            # By name, s3transfer reads each part from the file as it sends it; a file object
            # would be read a whole part at a time into memory, per part in flight.
            self.client.upload_file(temporary_path(), self.bucket, key, **arguments)
        else:  # small uploads, in memory already
            stream.seek(0)
            self.client.upload_fileobj(stream, self.bucket, key, **arguments)

    def stage_stream(self, tenant: Tenant, stream: BinaryIO) -> Staged:
        """The digest comes first (`received_digest`), so the bytes go to S3 once, straight
        under their blob key, and not at all when the tenant already has them."""
        sha256, size = received_digest(stream)
        return Staged(sha256=sha256, size=size, put=lambda key: self._upload(stream, key))

    def multipart_start(self, session: UploadSession) -> str:
        return self.client.create_multipart_upload(
            Bucket=self.bucket, Key=session.staging_key,
            **self._object_parameters(session.staging_key),
        )["UploadId"]

    def part_urls(self, session: UploadSession, numbers: Iterable[int]) -> list[str]:
        expires = _seconds_left(session)
        return [self.presigner.generate_presigned_url("upload_part", Params={
            "Bucket": self.bucket, "Key": session.staging_key,
            "UploadId": session.s3_upload_id, "PartNumber": number,
        }, ExpiresIn=expires) for number in numbers]

    def parts_received(self, session: UploadSession) -> list[ReceivedPart]:
        parts = []
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=session.staging_key, UploadId=session.s3_upload_id
        )
        for page in pages:
            parts.extend(ReceivedPart(part["PartNumber"], part["ETag"].strip('"'), part["Size"])
                         for part in page.get("Parts", []))
        return parts

    def multipart_finish(self, session: UploadSession, parts: dict[int, str]) -> Staged:
        try:
            received = {part.number: part for part in self.parts_received(session)}
        except ClientError as error:
            # Completed by an earlier call that failed later on: its object is still there.
            if (error.response["Error"]["Code"] != "NoSuchUpload"
                    or not self.exists(session.staging_key)):
                raise PartsRejected("The upload's parts are gone.") from error
        else:
            for number, etag in sorted(parts.items()):
                part = received.get(number)
                if part is None or part.etag != etag:
                    raise PartsRejected(f"Part {number} with ETag {etag!r} was not received.")
                if part.size != part_length(session, number):
                    raise PartsRejected(f"Part {number} has {part.size} bytes, expected "
                                        f"{part_length(session, number)}.")
            try:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=session.staging_key,
                    UploadId=session.s3_upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": number, "ETag": received[number]
                                                .etag} for number in sorted(parts)]},
                )
            except ClientError as error:
                raise PartsRejected(error.response["Error"].get("Message", "")) from error
        with self.open(session.staging_key) as assembled:
            reader = HashingReader(assembled, limit=session.size).drain()
        return Staged(sha256=reader.sha256, size=reader.size,
                      put=lambda key: self._copy(session.staging_key, key),
                      discard=lambda: self.delete(session.staging_key))

    def multipart_abort(self, session: UploadSession) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=session.staging_key,
                                               UploadId=session.s3_upload_id)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchUpload":
                raise
        self.delete(session.staging_key)  # assembled by a completion that failed later

    def dangling_uploads_abort(self, older_than: datetime) -> int:
        """Aborts multipart uploads under our prefix that no active session accounts for."""
        stale = []
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix="tenants/"):
            stale.extend((upload["Key"], upload["UploadId"]) for upload in page.get("Uploads", [])
                         if upload["Initiated"] < older_than)
        active = set(UploadSession.objects.filter(
            s3_upload_id__in=[upload_id for _, upload_id in stale],
            state__in=ACTIVE_UPLOAD_STATES,
        ).values_list("s3_upload_id", flat=True))
        aborted = 0
        for key, upload_id in stale:
            if upload_id not in active:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                   UploadId=upload_id)
                aborted += 1
        return aborted


Backend = FilesystemBackend | S3Backend


def backend() -> Backend:
    """The backend of the configured default storage."""
    storage = storages["default"]
    if isinstance(storage, S3Storage):
        return S3Backend(storage)
    if isinstance(storage, FileSystemStorage):
        return FilesystemBackend(storage)
    raise ImproperlyConfigured(f"Unsupported storage for blobs: {type(storage).__name__}")


# --- Blobs ---------------------------------------------------------------------------------

def lock_key(key: str) -> None:
    """Serialise, until the transaction ends, everyone who writes or deletes `key`.

    SQLite needs nothing more: its write transactions run one at a time (IMMEDIATE).
    """
    if connection.vendor == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def stage_stream(*, tenant: Tenant, stream: BinaryIO) -> Staged:
    """Receive `stream` (hashed, size-limited) without making it a blob yet."""
    return backend().stage_stream(tenant, stream)


@contextmanager
def blob_for(*, tenant: Tenant, staged: Staged) -> Iterator[Blob]:
    """Inside one transaction, the tenant's blob holding the staged bytes.

    The bytes are stored under the blob key only when the tenant has no blob with them yet
    (deduplication), or to repair one flagged missing or corrupt; if the block raises, a new
    object is removed before the transaction rolls back. Staging is discarded in every case.
    """
    key = blob_key(tenant, staged.sha256)
    try:
        with transaction.atomic():
            lock_key(key)
            blob = Blob.objects.filter(tenant=tenant, sha256=staged.sha256).first()
            created = blob is None
            if created:
                staged.put(key)
                blob = Blob.objects.create(tenant=tenant, sha256=staged.sha256,
                                           size=staged.size, storage_key=key)
            elif blob.integrity_error:
                staged.put(blob.storage_key)
                Blob.objects.filter(pk=blob.pk).update(integrity_error="",
                                                       last_verified_at=timezone.now())
            try:
                yield blob
            except BaseException:
                if created:
                    backend().delete(key)
                raise
    finally:
        staged.discard()


def blob_store_stream(*, tenant: Tenant, stream: BinaryIO) -> Blob:
    """Store `stream` as a blob of `tenant` (no file refers to it yet)."""
    with blob_for(tenant=tenant, staged=stage_stream(tenant=tenant, stream=stream)) as blob:
        return blob


def blob_open(blob: Blob) -> BinaryIO:
    """The blob's bytes as a seekable stream; FileNotFoundError when the object is missing."""
    return backend().open(blob.storage_key)


def _unreferenced(queryset):
    return queryset.filter(~Exists(ArtifactFile.objects.filter(blob=OuterRef("pk"))))


def blobs_release(blob_ids: Iterable[int]) -> None:
    """Delete the blobs no file refers to any more: rows now, objects after the commit."""
    unreferenced = _unreferenced(Blob.objects.filter(pk__in=set(blob_ids)))
    keys = list(unreferenced.values_list("storage_key", flat=True))
    if not keys:
        return
    unreferenced.delete()
    transaction.on_commit(lambda: _objects_delete_unclaimed(keys))


def _objects_delete_unclaimed(keys: list[str]) -> None:
    store = backend()
    for key in keys:
        with transaction.atomic():
            lock_key(key)
            # An upload of the same bytes may have made the key a blob again meanwhile.
            if not Blob.objects.filter(storage_key=key).exists():
                store.delete(key)


def blobs_collect_garbage() -> int:
    """Delete every blob no file refers to, row and object; how many."""
    store = backend()
    deleted = 0
    for pk, key in _unreferenced(Blob.objects.all()).values_list("pk", "storage_key"):
        with transaction.atomic():
            lock_key(key)  # before the row, in the same order as blob_for
            if _unreferenced(Blob.objects.select_for_update().filter(pk=pk)).delete()[0]:
                store.delete(key)
                deleted += 1
    return deleted


@dataclass
class VerifyReport:
    verified: int = 0
    missing: list[Blob] = field(default_factory=list)
    mismatched: list[Blob] = field(default_factory=list)


def blob_verify(blob: Blob, store: Backend | None = None) -> str:
    """Re-hash the blob's object and record the outcome; the problem found, or ""."""
    store = store or backend()
    try:
        with store.open(blob.storage_key) as stream:
            reader = HashingReader(stream, limit=blob.size).drain()
    except FileNotFoundError:
        problem = "missing from storage"
    except CodedValidationError:  # more bytes than recorded
        problem = f"content mismatch: more than {blob.size} bytes stored"
    else:
        problem = ("" if (reader.size, reader.sha256) == (blob.size, blob.sha256) else
                   f"content mismatch: {reader.size} bytes with sha256 {reader.sha256} stored")
    blob.integrity_error = problem
    blob.last_verified_at = timezone.now()
    Blob.objects.filter(pk=blob.pk).update(integrity_error=problem,
                                           last_verified_at=blob.last_verified_at)
    return problem


def blobs_verify(*, limit: int | None = None, tenant: Tenant | None = None) -> VerifyReport:
    """Re-hash blobs, least recently verified first (all of them without `limit`)."""
    queryset = Blob.objects.order_by(F("last_verified_at").asc(nulls_first=True), "pk")
    if tenant is not None:
        queryset = queryset.filter(tenant=tenant)
    if limit is not None:
        queryset = queryset[:limit]
    store = backend()
    report = VerifyReport()
    for blob in queryset.iterator(chunk_size=500):
        problem = blob_verify(blob, store)
        report.verified += 1
        if problem == "missing from storage":
            report.missing.append(blob)
        elif problem:
            report.mismatched.append(blob)
    return report


def orphans(*, min_age: timedelta = ORPHAN_MIN_AGE, staging_only: bool = False,
            tenant: Tenant | None = None) -> Iterator[str]:
    """Stored keys under tenants/ that no blob and no active upload accounts for."""
    cutoff = timezone.now() - min_age
    batch: list[str] = []
    prefix = f"tenants/{tenant.pk}/" if tenant else "tenants/"
    for key, modified in backend().iter_objects(prefix):
        if modified < cutoff and (staging_root(key) or not staging_only):
            batch.append(key)
        if len(batch) == 1000:
            yield from _unaccounted(batch)
            batch = []
    yield from _unaccounted(batch)


def _unaccounted(keys: list[str]) -> Iterator[str]:
    blob_keys = set(Blob.objects.filter(storage_key__in=keys)
                    .values_list("storage_key", flat=True))
    active = set(UploadSession.objects.filter(
        staging_key__in={staging_root(key) for key in keys} - {None},
        state__in=ACTIVE_UPLOAD_STATES,
    ).values_list("staging_key", flat=True))
    for key in keys:
        if key not in blob_keys and staging_root(key) not in active:
            yield key


def orphans_delete(*, min_age: timedelta = ORPHAN_MIN_AGE, staging_only: bool = False,
                   tenant: Tenant | None = None) -> list[str]:
    store = backend()
    deleted = []
    for key in orphans(min_age=min_age, staging_only=staging_only, tenant=tenant):
        with transaction.atomic():
            lock_key(key)
            if not Blob.objects.filter(storage_key=key).exists():
                store.delete(key)
                deleted.append(key)
    return deleted
