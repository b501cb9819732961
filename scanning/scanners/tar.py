"""Tar scanner (plain, gzip, bzip2, xz) and single compressed files such as model.pkl.gz.

Plain tars are read in place: members are windows on the file. Compressed content can only be
read front to back, so it is inflated once, watched for bombs as it goes, and each member is
spooled to a temporary file to be scanned like any other content.
"""

import bz2
import gzip
import io
import lzma
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from . import paths
from .blob import BUFFER_SIZE, Blob, spool
from .context import Context, Kind, member_location
from .result import Severity

_BLOCK = 512
COMPRESSED_PROBE = 8 * 1024
_DECOMPRESSORS = {
    b"\x1f\x8b": ("gzip", lambda raw: gzip.GzipFile(fileobj=raw)),
    b"BZ": ("bzip2", bz2.BZ2File),
    b"\xfd7": ("xz", lzma.LZMAFile),
}
_TAR_FORMATS = {"gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz", "zlib": "tar.zlib"}
# Formats whose decompressors the standard library lacks: their content cannot be seen, so
# they fail closed (7z hid the pickles of nullifAI; joblib writes lz4 when asked).
UNSUPPORTED = {
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\x04\x22\x4d\x18": "lz4",
    b"Rar!\x1a\x07": "rar",
}
_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)


class _BombDetected(Exception):
    pass


def is_zlib(prefix: bytes) -> bool:
    """A zlib stream (joblib's default compression): a valid header whose start inflates and
    does not read as text. The header alone is two bytes that text can spell ("x^")."""
    if len(prefix) < 2 or prefix[0] != 0x78 or (prefix[0] << 8 | prefix[1]) % 31:
        return False
    decompressor = zlib.decompressobj()
    try:
        decompressor.decompress(prefix[:COMPRESSED_PROBE], BUFFER_SIZE)
    except zlib.error:
        return False
    return decompressor.eof or any(
        not 32 <= byte < 127 and byte not in b"\t\r\n" for byte in prefix[:256]
    )


def unsupported(prefix: bytes) -> str:
    return next((name for magic, name in UNSUPPORTED.items() if prefix.startswith(magic)), "")


def scan_unsupported(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    name = unsupported(blob.prefix())
    context.fail(
        "archive.unsupported_format", f"{name} content cannot be decompressed and inspected",
        location,
    )
    return Kind("archive", name)


class _ZlibFile(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decompressor = zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = b""
        while not data and not self._decompressor.eof:
            pending = self._decompressor.unconsumed_tail or self._raw.read(COMPRESSED_PROBE)
            if not pending:
                raise EOFError("the zlib stream ends before its end marker")
            data = self._decompressor.decompress(pending, len(buffer))
        buffer[: len(data)] = data
        return len(data)


def is_tar_header(prefix: bytes) -> bool:
    """A tar header block with a valid checksum (ustar and old v7 headers alike)."""
    if len(prefix) < _BLOCK:
        return False
    header = prefix[:_BLOCK]
    try:
        stored = int(header[148:156].rstrip(b"\x00 ").decode("ascii"), 8)
    except ValueError:
        return False
    unsigned = sum(header[:148]) + 8 * ord(" ") + sum(header[156:])
    return stored == unsigned and header[0] != 0


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    blob = blob.with_random_access(context.resources)
    try:
        # ignore_zeros: GNU tar can be told to read past zero blocks and damaged headers, so
        # members hidden behind them must be seen too.
        with tarfile.open(fileobj=blob.open(), mode="r:", ignore_zeros=True) as archive:
            for member, where in _members(archive, location, context, nesting):
                if member.issparse():
                    content = spool(archive.extractfile(member), context.resources)  # type: ignore[arg-type]
                else:
                    content = blob.slice(member.offset_data, member.size)
                context.scan_nested(content, where, nesting + 1)
    except _READ_ERRORS as error:
        context.fail("tar.corrupt", f"the tar archive cannot be read: {error}", location)
    return Kind("archive", "tar")


def scan_compressed(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    name, open_decompressed = _DECOMPRESSORS.get(blob.prefix(2), ("zlib", _ZlibFile))
    compressed = blob.open()
    meter = _Meter(open_decompressed(compressed), compressed, context)
    decompressed = io.BufferedReader(meter, BUFFER_SIZE)
    kind = Kind("archive", name)
    try:
        if is_tar_header(decompressed.peek(_BLOCK)[:_BLOCK]):
            kind = Kind("archive", _TAR_FORMATS[name])
            with tarfile.open(fileobj=decompressed, mode="r|", ignore_zeros=True) as archive:
                for member, where in _members(archive, location, context, nesting):
                    content = spool(archive.extractfile(member), context.resources)  # type: ignore[arg-type]
                    context.scan_nested(content, where, nesting + 1)
        elif not context.too_deep(nesting, location):
            content = spool(decompressed, context.resources)  # type: ignore[arg-type]
            context.scan_nested(content, f"{location} (decompressed)", nesting + 1)
    except _BombDetected as bomb:
        context.add(Severity.HIGH, "archive.bomb", str(bomb), location)
    except _READ_ERRORS as error:
        context.fail("archive.corrupt", f"the {name} data cannot be read: {error}", location)
    return kind


def _members(
    archive: tarfile.TarFile, location: str, context: Context, nesting: int
) -> Iterator[tuple[tarfile.TarInfo, str]]:
    """Checks every member's header and yields the regular files whose content to scan."""
    links: set[str] = set()
    total = 0
    deep = context.too_deep(nesting, location)
    for count, member in enumerate(archive, start=1):
        if count > context.limits.max_archive_entries:
            context.fail(
                "archive.too_many_entries",
                f"more than {context.limits.max_archive_entries} entries; the rest were not "
                "inspected",
                location,
            )
            return
        where = member_location(location, nesting, member.name)
        _check_member(member, f"entry {where}", links, context)
        total += member.size
        if total > context.limits.max_total_uncompressed:
            context.add(
                Severity.HIGH,
                "archive.bomb",
                f"the members add up to more than {context.limits.max_total_uncompressed} bytes",
                location,
            )
            return
        if member.isreg() and not deep:
            yield member, where


def _check_member(
    member: tarfile.TarInfo, location: str, links: set[str], context: Context
) -> None:
    paths.check_path(member.name, location, context)
    paths.check_through_links(member.name, links, location, context)
    if member.issym():
        links.add(posixpath.normpath(member.name.replace("\\", "/")))
        paths.check_link(member.name, member.linkname, location, context, hard=False)
    elif member.islnk():
        paths.check_link(member.name, member.linkname, location, context, hard=True)
    elif member.ischr() or member.isblk() or member.isfifo():
        context.add(
            Severity.HIGH,
            "archive.special_file",
            f"{member.name!r} is a device or FIFO entry",
            location,
        )


class _Meter(io.RawIOBase):
    """Passes decompressed bytes through, stopping a bomb while it goes off."""

    def __init__(self, decompressed: BinaryIO, compressed: BinaryIO, context: Context) -> None:
        self._decompressed = decompressed
        self._compressed = compressed
        self._limits = context.limits
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._decompressed.read(len(buffer))
        buffer[: len(data)] = data
        self._total += len(data)
        limits = self._limits
        if self._total > limits.max_total_uncompressed:
            raise _BombDetected(
                f"inflates to more than {limits.max_total_uncompressed} bytes; not read further"
            )
        consumed = max(self._compressed.tell(), 1)
        if self._total >= limits.min_bomb_size and self._total > consumed * (
            limits.max_compression_ratio
        ):
            raise _BombDetected(
                f"inflates {consumed} bytes to more than {self._total} "
                f"(more than {limits.max_compression_ratio}:1); not read further"
            )
        return len(data)
