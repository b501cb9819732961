"""The local filesystem backend (files under MEDIA_ROOT), with S3's multipart upload emulated.

A resumable upload's staging folder holds `data`, one preallocated file every part is written
into at its offset; a marker per part received, part-<number>.<etag>; and lock-<number>, held
by the one request writing that part. Completing the upload hashes `data` once and renames
it under its blob key: no byte is copied, and a part sent again simply overwrites its range.
"""

import errno
import fcntl
import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from accounts.models import Tenant
from registry.models import UploadSession
from registry.storage.keys import CHUNK_SIZE, part_length, part_token, staging_key
from registry.storage.staging import (
    HashingReader,
    PartsRejected,
    ReceivedPart,
    Staged,
    received_digest,
)
from registry.urls_public import absolute


class FilesystemBackend:
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

    # --- The resumable protocol's storage side -------------------------------------------

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
        """Writes part `number` from `stream` at its offset, a chunk at a time; its ETag, or
        None when the session closed meanwhile. Raises PartsRejected when the stream ends
        early or another request is writing the same part."""
        directory = self.path(session.staging_key)
        try:
            with _flock(directory / f"lock-{number:05d}") as held:
                if not held:
                    raise PartsRejected(f"Part {number} is being received by another "
                                        "request; send it again when that one ends.")
                for stale in directory.glob(f"part-{number:05d}.*"):
                    stale.unlink(missing_ok=True)  # a rewrite invalidates the previous ETag
                return self._part_receive(session, number, stream, still_open)
        except FileNotFoundError:  # aborted meanwhile: the staging folder is gone
            return None

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
            while remaining:
                chunk = stream.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise PartsRejected(f"Part {number} ended {remaining} bytes early.")
                data.write(chunk)
                remaining -= len(chunk)
            etag = secrets.token_hex(16)
            (directory / f"part-{number:05d}.{etag}").touch()
        return etag

    def parts_received(self, session: UploadSession) -> list[ReceivedPart]:
        parts = []
        for marker in sorted(self.path(session.staging_key).glob("part-*.*")):
            number, etag = marker.name.removeprefix("part-").split(".", 1)
            parts.append(ReceivedPart(int(number), etag, part_length(session, int(number))))
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
            # Hashed once, here: parts arrive in any order, in any worker process.
            reader = HashingReader(data, limit=session.size).drain()
        return Staged(sha256=reader.sha256, size=reader.size,
                      put=lambda key: self._move(directory / "data", key),
                      discard=lambda: shutil.rmtree(directory, ignore_errors=True))

    def multipart_abort(self, session: UploadSession) -> None:
        shutil.rmtree(self.path(session.staging_key), ignore_errors=True)

    def dangling_uploads_abort(self, older_than: datetime) -> int:
        return 0  # a resumable upload's folder is a plain staging object: see orphans_delete


@contextmanager
def _flock(path: Path) -> Iterator[bool]:
    """A non-blocking exclusive flock on `path`, created if need be; yields whether held."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(descriptor)
