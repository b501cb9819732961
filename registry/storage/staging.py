"""Bytes received and hashed on their way in, not yet a blob; the types both backends share."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings

from registry.errors import file_too_large
from registry.storage.keys import CHUNK_SIZE
from registry.upload_handlers import HashedTemporaryUploadedFile


class HashingReader:
    """Reads a stream, computing its sha256 and size on the way; stops past `limit` bytes."""

    def __init__(self, stream: BinaryIO, limit: int | None = None) -> None:
        self.stream = stream
        self.limit = settings.REGISTRY_MAX_FILE_SIZE if limit is None else limit
        self.digest = hashlib.sha256()
        self.size = 0

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
    """The sha256 and size of a received file, size-limited: the digest its upload handler
    declared when it hashed the file as it spooled it, else read here."""
    if isinstance(stream, HashedTemporaryUploadedFile) and stream.sha256 is not None:
        if stream.size > settings.REGISTRY_MAX_FILE_SIZE:
            raise file_too_large()
        return stream.sha256, stream.size
    reader = HashingReader(stream).drain()
    return reader.sha256, reader.size


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
