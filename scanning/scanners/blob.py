"""Byte sources of known size that every scanner reads through.

A Blob is a window on a seekable stream (a local file, an S3 object, a stored zip member) or on
a decompressing stream. Every read seeks first, so several readers can share one underlying
stream without trusting its current position, and nothing ever needs a file descriptor.
"""

import io
import shutil
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from typing import BinaryIO

BUFFER_SIZE = 64 * 1024
# Compressed input is fed in small pieces so that one piece of a bomb inflates to a few MB at most.
COMPRESSED_CHUNK = 8 * 1024
# Spooled copies stay in memory up to this size, then move to a temporary file.
SPOOL_MEMORY_BYTES = 16 * 2**20


class Blob:
    def __init__(
        self, stream: BinaryIO, size: int, offset: int = 0, *, random_access: bool = True
    ) -> None:
        self.stream = stream
        self.size = size
        self.offset = offset
        # False for decompressing streams, where seeking backwards means starting over.
        self.random_access = random_access

    @classmethod
    def of_stream(cls, stream: BinaryIO) -> "Blob":
        stream.seek(0, io.SEEK_END)
        return cls(stream, stream.tell())

    def read_at(self, position: int, length: int) -> bytes:
        """Up to `length` bytes from `position`, fewer at the end of the blob."""
        length = max(0, min(length, self.size - position))
        if length == 0:
            return b""
        self.stream.seek(self.offset + position)
        data = self.stream.read(length)
        # Raw and network streams may return less than asked before their end.
        while len(data) < length and (more := self.stream.read(length - len(data))):
            data += more
        return data

    def prefix(self, length: int = BUFFER_SIZE) -> bytes:
        return self.read_at(0, length)

    def slice(self, position: int, length: int) -> "Blob":
        length = max(0, min(length, self.size - position))
        return Blob(self.stream, length, self.offset + position, random_access=self.random_access)

    def with_random_access(self, resources: ExitStack) -> "Blob":
        """This blob, or a spooled copy of it if seeking it backwards is expensive."""
        return self if self.random_access else spool(self.open(), resources)

    def open(self, buffer_size: int = BUFFER_SIZE) -> io.BufferedReader:
        """A seekable, read-only file object over the blob (what h5py and tarfile want)."""
        return io.BufferedReader(_RangeRaw(self), buffer_size)


class _RangeRaw(io.RawIOBase):
    def __init__(self, blob: Blob) -> None:
        self._blob = blob
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._blob.size}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._blob.read_at(self._position, len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


class DecompressingRaw(io.RawIOBase):
    """Decompresses a blob on the fly, stopping at the size its container declared.

    Seeking backwards restarts the decompression: fine for sequential readers (pickles, .npy
    headers, prefixes); random-access readers get a spooled copy (Blob.with_random_access).
    """

    def __init__(self, source: Blob, new_decompressor: Callable[[], object], size: int) -> None:
        self._source = source
        self._new_decompressor = new_decompressor
        self._size = size
        self._restart()

    def _restart(self) -> None:
        self._decompressor = self._new_decompressor()
        self._consumed = 0
        self._position = 0
        self._pending = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}
        target = max(0, min(base[whence] + offset, self._size))
        if target < self._position:
            self._restart()
        while self._position < target:
            if not self._read_chunk(min(target - self._position, BUFFER_SIZE)):
                break
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._read_chunk(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read_chunk(self, length: int) -> bytes:
        length = min(length, self._size - self._position)
        # Pieces are joined once: appending to one bytes object would copy it at every piece.
        pieces, available = [self._pending], len(self._pending)
        while available < length:
            if self._decompressor.eof or self._consumed >= self._source.size:  # type: ignore[attr-defined]
                raise EOFError("compressed data ended before the declared size")
            compressed = self._source.read_at(self._consumed, COMPRESSED_CHUNK)
            self._consumed += len(compressed)
            pieces.append(self._decompressor.decompress(compressed))  # type: ignore[attr-defined]
            available += len(pieces[-1])
        pending = b"".join(pieces)
        data, self._pending = pending[:length], pending[length:]
        self._position += len(data)
        return data


def decompressed_blob(source: Blob, new_decompressor: Callable[[], object], size: int) -> Blob:
    raw = DecompressingRaw(source, new_decompressor, size)
    return Blob(io.BufferedReader(raw, BUFFER_SIZE), size, random_access=False)  # type: ignore[arg-type]


def spool(reader: BinaryIO, resources: ExitStack) -> Blob:
    """Copies a sequential stream into a seekable temporary file (memory first, then disk)."""
    # Closed with the scan's other resources, not here: the blob outlives this function.
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    resources.callback(copy.close)
    shutil.copyfileobj(reader, copy, BUFFER_SIZE)
    return Blob.of_stream(copy)  # type: ignore[arg-type]
