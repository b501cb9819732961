"""Zip scanner (PyTorch checkpoints, .npz, .keras and plain zips).

Reads the central directory and every local header itself, the way PyTorch's reader (miniz)
does, instead of trusting zipfile: CRCs are not required to match, flag bits do not stop the
reading, and a local name that differs from the central one is reported, not fatal. Loaders
disagree on such details and attacks live in the disagreements, so every member is looked at
by content. Only pickle members are read whole; tensor data is never read beyond a probe.
"""

import bz2
import posixpath
import re
import struct
import zlib
from dataclasses import dataclass

from . import paths, pickle, torchscript
from .blob import Blob, decompressed_blob
from .context import Context, Kind, member_location
from .result import Severity

_END = b"PK\x05\x06"
_END64 = b"PK\x06\x06"
_END64_LOCATOR = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_END_SIZE, _END64_SIZE, _LOCATOR_SIZE, _CENTRAL_SIZE, _LOCAL_SIZE = 22, 56, 20, 46, 30
_MAX_COMMENT = 0xFFFF

_ENCRYPTED_FLAGS = 0x0001 | 0x0040  # traditional and strong encryption
_UTF8_FLAG = 0x0800
_UNIX = 3
_S_IFLNK = 0o120000
_STORED, _DEFLATED, _BZIP2 = 0, 8, 12
_DECOMPRESSORS = {
    _DEFLATED: lambda: zlib.decompressobj(-zlib.MAX_WBITS),
    _BZIP2: bz2.BZ2Decompressor,
}
_PICKLE_SUFFIXES = (".pkl", ".pickle")
# PyTorch keeps raw tensor bytes in <archive>/data/<key>: never unpickled, never read whole.
_TENSOR_DATA = re.compile(r"^[^/]+/data/\d+$")
_MAX_LINK_TARGET = 4096


class ZipError(ValueError):
    pass


@dataclass(frozen=True)
class End:
    """Where the central directory is, and how far the archive is shifted into the file."""

    entries: int
    directory_offset: int
    directory_size: int
    shift: int


@dataclass
class _Entry:
    name: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    mode: int  # Unix mode from the external attributes, 0 when not made on Unix
    local_name: str = ""
    data_offset: int = 0
    bomb: bool = False


def find_end(blob: Blob) -> End | None:
    """The end of central directory record, or None when there is no usable one."""
    try:
        return _read_end(blob)
    except ZipError:
        return None


def _read_end(blob: Blob) -> End:
    # Like zipfile and miniz: the last signature in the tail wins, so try the common
    # comment-less case first and only then search the maximal comment window.
    if blob.size < _END_SIZE:
        raise ZipError("too short for a zip archive")
    tail = blob.read_at(blob.size - _END_SIZE, _END_SIZE)
    position = blob.size - _END_SIZE
    if not tail.startswith(_END):
        start = max(0, blob.size - _END_SIZE - _MAX_COMMENT)
        window = blob.read_at(start, blob.size - start)
        found = window.rfind(_END)
        if found < 0 or found + _END_SIZE > len(window):
            raise ZipError("no end of central directory record")
        position = start + found
        tail = window[found : found + _END_SIZE]
    (_, disk, directory_disk, _, entries, size, offset, _) = struct.unpack("<4s4H2LH", tail)
    if disk or directory_disk:
        raise ZipError("multi-disk archives are not supported")
    directory_end = position
    # Like zipfile and miniz, a zip64 locator in front of the end record wins, saturated
    # fields or not (zipfile writes zip64 records from 2 GiB on).
    zip64 = _read_end64(blob, position)
    if zip64 is not None:
        entries, size, offset = zip64
        directory_end = position - _LOCATOR_SIZE - _END64_SIZE
    elif entries == 0xFFFF or 0xFFFFFFFF in (size, offset):
        raise ZipError("zip64 end of central directory record missing")
    # Bytes in front of the archive (self-extractors) shift every offset, as zipfile allows.
    shift = directory_end - size - offset
    if shift < 0 or offset + shift + size > blob.size:
        raise ZipError("the central directory lies outside the file")
    if entries and blob.read_at(offset + shift, 4) != _CENTRAL:
        raise ZipError("no central directory where the end record says")
    return End(entries=entries, directory_offset=offset + shift, directory_size=size, shift=shift)


def _read_end64(blob: Blob, end_position: int) -> tuple[int, int, int] | None:
    """(entries, directory size, directory offset) from the zip64 records, if there are any."""
    if end_position < _LOCATOR_SIZE + _END64_SIZE:
        return None
    locator = blob.read_at(end_position - _LOCATOR_SIZE, _LOCATOR_SIZE)
    if not locator.startswith(_END64_LOCATOR):
        return None
    record = blob.read_at(end_position - _LOCATOR_SIZE - _END64_SIZE, _END64_SIZE)
    if not record.startswith(_END64):
        raise ZipError("zip64 end of central directory record missing")
    _, _, _, _, _, _, _, entries, size, offset = struct.unpack("<4sQ2H2L4Q", record)
    return entries, size, offset


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    blob = blob.with_random_access(context.resources)
    try:
        end = _read_end(blob)
        entries = _read_directory(blob, end, location, context)
    except ZipError as error:
        context.fail("zip.corrupt", f"the zip archive cannot be read: {error}", location)
        return Kind("zip", "zip")
    kind = _kind_of(entries)
    _check_sizes(entries, location, context)
    seen: set[str] = set()
    links: set[str] = set()
    for entry in entries:
        where = member_location(location, nesting, entry.name)
        if _read_local_header(blob, entry, where, context):
            try:
                _check_entry(blob, entry, where, seen, links, context)
            except (EOFError, zlib.error, OSError) as error:
                context.fail("zip.corrupt", f"the member cannot be decompressed: {error}", where)
    _check_overlaps(entries, location, context)
    if context.too_deep(nesting, location):
        return kind
    for entry in entries:
        if entry.data_offset and not _is_link(entry.mode):
            where = member_location(location, nesting, entry.name)
            _scan_member(blob, entry, kind, where, context, nesting)
    return kind


def _is_link(mode: int) -> bool:
    return mode & 0o170000 == _S_IFLNK


def _read_directory(blob: Blob, end: End, location: str, context: Context) -> list[_Entry]:
    directory = blob.slice(end.directory_offset, end.directory_size).open()
    entries: list[_Entry] = []
    position = 0
    complete = True
    # Walked by size like zipfile, which sees every entry present even if the count lies.
    while position < end.directory_size:
        header = directory.read(_CENTRAL_SIZE)
        if len(header) < _CENTRAL_SIZE or not header.startswith(_CENTRAL):
            raise ZipError(f"bad central directory entry at offset {position}")
        if len(entries) == context.limits.max_archive_entries:
            context.fail(
                "archive.too_many_entries",
                f"more than {context.limits.max_archive_entries} entries; the rest were not "
                "inspected",
                location,
            )
            complete = False
            break
        (
            _, system_version, _, flags, method, _, _, crc, compressed_size, size,
            name_length, extra_length, comment_length, _, _, attributes, header_offset,
        ) = struct.unpack("<4s6H3L5HLL", header)  # fmt: skip
        raw_name = directory.read(name_length)
        extra = directory.read(extra_length)
        directory.read(comment_length)
        size, compressed_size, header_offset = _apply_zip64(
            extra, size, compressed_size, header_offset
        )
        entries.append(
            _Entry(
                name=_decode(raw_name, flags),
                raw_name=raw_name,
                flags=flags,
                method=method,
                crc=crc,
                compressed_size=compressed_size,
                size=size,
                header_offset=header_offset + end.shift,
                mode=attributes >> 16 if system_version >> 8 == _UNIX else 0,
            )
        )
        position += _CENTRAL_SIZE + name_length + extra_length + comment_length
    if complete and len(entries) != end.entries:
        context.add(
            Severity.MEDIUM,
            "zip.inconsistent_directory",
            f"the end record counts {end.entries} entries, the directory holds {len(entries)}",
            location,
        )
    return entries


def _apply_zip64(
    extra: bytes, size: int, compressed_size: int, offset: int
) -> tuple[int, int, int]:
    """Replaces the saturated 32-bit fields by those of the zip64 extra field, in order."""
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if tag == 0x0001:
            values = [v[0] for v in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            fields = [size, compressed_size, offset]
            for index, value in enumerate(fields):
                if value == 0xFFFFFFFF and values:
                    fields[index] = values.pop(0)
            return fields[0], fields[1], fields[2]
        position += 4 + length
    return size, compressed_size, offset


def _decode(raw_name: bytes, flags: int) -> str:
    # zipfile's rule: UTF-8 when flagged, else cp437 (which decodes any byte).
    return raw_name.decode("utf-8", "replace") if flags & _UTF8_FLAG else raw_name.decode("cp437")


def _kind_of(entries: list[_Entry]) -> Kind:
    names = {entry.name for entry in entries}
    if any(posixpath.basename(name) == "data.pkl" and name.count("/") <= 1 for name in names):
        if any(torchscript.CODE.match(name) for name in names):
            return Kind("pytorch", "torchscript")
        return Kind("pytorch", "pytorch")
    if "config.json" in names and names & {"metadata.json", "model.weights.h5"}:
        return Kind("zip", "keras")
    if names and all(name.endswith(".npy") for name in names):
        return Kind("zip", "npz")
    return Kind("zip", "zip")


def _check_sizes(entries: list[_Entry], location: str, context: Context) -> None:
    """Zip bombs, judged from the declared sizes without inflating anything."""
    limits = context.limits
    for entry in entries:
        if entry.size < limits.min_bomb_size or entry.method == _STORED:
            continue
        if entry.size > entry.compressed_size * limits.max_compression_ratio:
            entry.bomb = True
            context.add(
                Severity.HIGH,
                "archive.bomb",
                f"{entry.name!r} inflates {entry.compressed_size} bytes to {entry.size} "
                f"(more than {limits.max_compression_ratio}:1)",
                location,
            )
    total = sum(entry.size for entry in entries)
    if total > limits.max_total_uncompressed:
        context.add(
            Severity.HIGH,
            "archive.bomb",
            f"the entries add up to {total} bytes uncompressed "
            f"(limit {limits.max_total_uncompressed})",
            location,
        )


def _read_local_header(blob: Blob, entry: _Entry, where: str, context: Context) -> bool:
    # One read for the header and, normally, its name: on S3 every read is a request.
    header = blob.read_at(entry.header_offset, _LOCAL_SIZE + len(entry.raw_name))
    if len(header) < _LOCAL_SIZE or not header.startswith(_LOCAL):
        context.fail("zip.corrupt", "no local header where the central directory says", where)
        return False
    _, _, local_flags, _, _, _, _, _, _, name_length, extra_length = struct.unpack(
        "<4s5H3L2H", header[:_LOCAL_SIZE]
    )
    raw_local_name = header[_LOCAL_SIZE : _LOCAL_SIZE + name_length]
    if len(raw_local_name) < name_length:
        raw_local_name = blob.read_at(entry.header_offset + _LOCAL_SIZE, name_length)
    entry.local_name = _decode(raw_local_name, local_flags)
    entry.data_offset = entry.header_offset + _LOCAL_SIZE + name_length + extra_length
    if entry.data_offset + entry.compressed_size > blob.size:
        context.fail("zip.corrupt", "the member's data runs past the end of the file", where)
        entry.data_offset = 0
        return False
    return True


def _check_entry(
    blob: Blob, entry: _Entry, where: str, seen: set[str], links: set[str], context: Context
) -> None:
    location = f"entry {where}"
    paths.check_path(entry.name, location, context)
    if entry.local_name != entry.name:
        # PyTorch reads the central name, streaming readers the local one: the same bytes can
        # pass for tensor data in one and for a pickle in the other.
        paths.check_path(entry.local_name, location, context)
        context.add(
            Severity.HIGH,
            "zip.name_mismatch",
            f"the central directory names this member {entry.name!r}, its local header "
            f"{entry.local_name!r}",
            location,
        )
    if entry.name in seen:
        context.add(
            Severity.MEDIUM,
            "zip.duplicate_name",
            f"{entry.name!r} appears more than once; loaders disagree on which one wins",
            location,
        )
    seen.add(entry.name)
    paths.check_through_links(entry.name, links, location, context)
    if entry.flags & _ENCRYPTED_FLAGS:
        context.add(
            Severity.MEDIUM,
            "zip.encrypted_entry",
            "the member is flagged as encrypted; it was read as stored bytes regardless",
            location,
        )
    if entry.method not in (_STORED, *_DECOMPRESSORS):
        context.fail(
            "zip.unsupported_compression",
            f"compression method {entry.method} cannot be inspected",
            location,
        )
        entry.data_offset = 0
    elif _is_link(entry.mode):
        links.add(posixpath.normpath(entry.name.replace("\\", "/")))
        target = _member_blob(blob, entry).prefix(_MAX_LINK_TARGET)
        target_path = target.decode("utf-8", "replace")
        paths.check_link(entry.name, target_path, location, context, hard=False)
    else:
        paths.check_special_file(entry.name, entry.mode, location, context)


def _check_overlaps(entries: list[_Entry], location: str, context: Context) -> None:
    """Members sharing bytes are how the best zip bombs multiply their output."""
    spans = sorted(
        (entry.header_offset, entry.data_offset + entry.compressed_size, entry.name)
        for entry in entries
        if entry.data_offset
    )
    for (_, previous_end, previous), (start, _, name) in zip(spans, spans[1:], strict=False):
        if start < previous_end:
            context.add(
                Severity.HIGH,
                "archive.bomb",
                f"members {previous!r} and {name!r} overlap",
                location,
            )
            return


def _member_blob(blob: Blob, entry: _Entry) -> Blob:
    data = blob.slice(entry.data_offset, entry.compressed_size)
    if entry.method == _STORED:
        return data
    return decompressed_blob(data, _DECOMPRESSORS[entry.method], entry.size)


def _scan_member(
    blob: Blob, entry: _Entry, kind: Kind, where: str, context: Context, nesting: int
) -> None:
    member = _member_blob(blob, entry)
    names = (entry.name, entry.local_name)
    try:
        if kind.format == "torchscript" and any(torchscript.CODE.match(n) for n in names):
            torchscript.check_code(member, where, context)
        elif any(name.endswith(_PICKLE_SUFFIXES) for name in names):
            pickle.scan(member, where, context, claim=pickle.Claim.CLAIMED)
            if member.size <= context.limits.max_pickle_bytes:
                _check_crc(member, entry, where, context)
        elif entry.bomb or (
            kind.scanner == "pytorch" and all(_TENSOR_DATA.match(name) for name in names)
        ):
            # Raw tensor bytes, or a bomb that must not be inflated into a spooled copy: only
            # probed, in case someone hid a pickle there (the probe stops at the pickle limit).
            pickle.scan(member, where, context, claim=pickle.Claim.HIDDEN)
        else:
            context.scan_nested(member, where, nesting + 1)
    except (EOFError, zlib.error, OSError) as error:
        context.fail("zip.corrupt", f"the member cannot be decompressed: {error}", where)


def _check_crc(member: Blob, entry: _Entry, where: str, context: Context) -> None:
    # PyTorch does not check CRCs and neither does the scan; a wrong one is still a sign of
    # tampering aimed at scanners built on zipfile, which refuses such members.
    crc = 0
    reader = member.open()
    while chunk := reader.read(1 << 20):
        crc = zlib.crc32(chunk, crc)
    if crc != entry.crc:
        context.add(
            Severity.MEDIUM,
            "zip.crc_mismatch",
            f"the member's CRC-32 is {crc:08x}, its header says {entry.crc:08x}",
            where,
        )
