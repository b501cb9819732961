"""Chooses the scanners for some content by its bytes, never its name, and runs them."""

import codecs
import lzma
import struct
import tarfile
import time
import zlib
from typing import BinaryIO

from . import gguf, hdf5, keras, numpy, onnx, pickle, safetensors, savedmodel, sweep, tar, zip
from .blob import Blob
from .context import Context, Kind
from .pickle_policy import NAMED_ALLOWLISTS
from .result import SCANNER_VERSION, ScanLimits, ScanResult, Severity

PICKLE = Kind("pickle", "pickle")
UNKNOWN = Kind("unknown", "unknown")
_CONTAINERS = frozenset({"zip", "pytorch", "archive"})

_MAGIC_SCANNERS = {
    "zip": zip.scan,
    "npy": numpy.scan,
    "hdf5": hdf5.scan,
    "gzip": tar.scan_compressed,
    "bzip2": tar.scan_compressed,
    "xz": tar.scan_compressed,
    "tar": tar.scan,
    "safetensors": safetensors.scan,
    "gguf": gguf.scan,
    "zlib": tar.scan_compressed,
    "unsupported": tar.scan_unsupported,
}
# What a scan reports if a scanner crashes, by the magic that selected it.
_MAGIC_KINDS = {
    "pickle": PICKLE,
    "zip": Kind("zip", "zip"),
    "npy": Kind("numpy", "npy"),
    "hdf5": Kind("hdf5", "hdf5"),
    "gzip": Kind("archive", "gzip"),
    "bzip2": Kind("archive", "bzip2"),
    "xz": Kind("archive", "xz"),
    "tar": Kind("archive", "tar"),
    "safetensors": Kind("safetensors", "safetensors"),
    "gguf": Kind("gguf", "gguf"),
    "zlib": Kind("archive", "zlib"),
    "unsupported": Kind("archive", "unsupported"),
}
_IMAGES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif"}
# What reading and parsing content can raise, scanner bugs included: such a failure becomes an
# ERROR result (fail closed). Anything else, such as a worker's time limit, is the caller's.
_SCAN_FAILURES = (
    OSError, EOFError, ValueError, LookupError, TypeError, AttributeError, ArithmeticError,
    RuntimeError, MemoryError, struct.error, zlib.error, lzma.LZMAError, tarfile.TarError,
)  # fmt: skip
DEFAULT_LIMITS = ScanLimits()


def scan_stream(
    stream: BinaryIO,
    *,
    name: str = "",
    limits: ScanLimits = DEFAULT_LIMITS,
    pickle_allowlist: str = "",
) -> ScanResult:
    """Scans a seekable binary stream (read and seek only) and reports what it found.
    `pickle_allowlist` names extra pickle globals to allow (pickle_policy.NAMED_ALLOWLISTS).

    Never raises for what the content or the stream does (that is an ERROR result); a time limit
    or other interruption raised while scanning propagates.
    """
    if pickle_allowlist and pickle_allowlist not in NAMED_ALLOWLISTS:
        raise ValueError(f"no pickle allowlist named {pickle_allowlist!r}")
    started = time.perf_counter()
    location = name or "<stream>"
    context = Context(
        limits=limits,
        pickle_allowlist=pickle_allowlist,
        scan_nested=lambda blob, where, nesting: scan_blob(blob, where, context, nesting),
    )
    kind = UNKNOWN
    with context.resources:
        try:
            blob = Blob.of_stream(stream)
            kind = _MAGIC_KINDS.get(identify(blob.prefix(), blob.size), UNKNOWN)
            kind = scan_blob(blob, location, context, nesting=0)
        except _SCAN_FAILURES as error:
            context.fail(
                "scan.internal_error", f"the scan failed: {type(error).__name__}: {error}", location
            )
    return ScanResult(
        scanner=kind.scanner,
        scanner_version=SCANNER_VERSION,
        verdict=context.verdict(),
        findings=list(context.findings),
        detected_format=kind.format,
        duration_seconds=time.perf_counter() - started,
        incomplete=context.failed,
    )


def identify(prefix: bytes, size: int) -> str:
    """The format some content announces by its magic bytes, or "" when it announces none."""
    if prefix.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if prefix.startswith(numpy.MAGIC):
        return "npy"
    if prefix.startswith(hdf5.SIGNATURE):
        return "hdf5"
    if prefix.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if prefix.startswith(b"BZh") and prefix[4:10] == b"1AY&SY":
        return "bzip2"
    if prefix.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if tar.unsupported(prefix):
        return "unsupported"
    if prefix.startswith(gguf.MAGIC):
        return "gguf"
    if tar.is_tar_header(prefix):
        return "tar"
    if safetensors.has_header(prefix, size):
        return "safetensors"
    if prefix.startswith(pickle.PROTOCOL_PREFIXES):
        return "pickle"
    if hdf5.userblock_offset(prefix):
        return "hdf5"
    if tar.is_zlib(prefix):
        return "zlib"
    return ""


def scan_blob(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    prefix = blob.prefix()
    magic = identify(prefix, blob.size)
    if magic == "pickle":
        pickle.scan(blob, location, context, claim=pickle.Claim.CLAIMED)
        kind = PICKLE
    elif magic:
        kind = _MAGIC_SCANNERS[magic](blob, location, context, nesting)
        # torch.load unpickles anything that is not a zip: a file that is both, say, a tar
        # and a pickle must not pass as a tar.
        if pickle.scan(blob, location, context, claim=pickle.Claim.HIDDEN):
            _polyglot(context, kind, "parses as a pickle too", location)
    else:
        kind = _scan_unannounced(blob, prefix, location, context, nesting)
    # Other readers look where this scan did not: Python's zipfile finds an archive by its end,
    # HDF5 a superblock behind a user block of any content. Not in containers, where such
    # content is a member and was scanned as one, nor in compressed members, whose end costs
    # inflating them whole.
    if kind.scanner in _CONTAINERS or not blob.random_access:
        return kind
    if zip.find_end(blob) is not None:
        _polyglot(context, kind, "ends with a zip archive", location)
        zip.scan(blob, location, context, nesting)
    if magic != "hdf5" and hdf5.userblock_offset(prefix):
        _polyglot(context, kind, "contains an HDF5 file behind a user block", location)
        hdf5.scan(blob, location, context, nesting)
    return kind


def _scan_unannounced(
    blob: Blob, prefix: bytes, location: str, context: Context, nesting: int
) -> Kind:
    """Content without magic bytes: tried as each magic-less format in turn."""
    if pickle.scan(blob, location, context, claim=pickle.Claim.CANDIDATE):
        return PICKLE
    kind = onnx.scan(blob, location, context, nesting) or savedmodel.scan(
        blob, location, context, nesting
    )
    if kind is not None:
        return kind
    if safetensors.may_be_header(prefix):
        return safetensors.scan(blob, location, context, nesting)
    kind = keras.scan_json(blob, prefix, location, context)
    if kind is not None:
        return kind
    kind = Kind("unknown", _describe(prefix))
    if sweep.sweep(blob, location, context, text=kind.format == "text"):
        return Kind("pickle", f"{kind.format} with embedded pickle")
    if nesting == 0:
        context.add(
            Severity.INFO,
            "format.unrecognised",
            f"{kind.format} content: no scanner applies and nothing executable was found",
            location,
        )
    return kind


def _describe(prefix: bytes) -> str:
    if not prefix:
        return "empty"
    for magic, name in _IMAGES.items():
        if prefix.startswith(magic):
            return name
    try:
        # Incremental, because a multi-byte character may be cut at the end of the prefix.
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
    except UnicodeDecodeError:
        return "unknown"
    return "unknown" if b"\x00" in prefix else "text"


def _polyglot(context: Context, kind: Kind, what: str, location: str) -> None:
    context.add(Severity.MEDIUM, "format.polyglot", f"the {kind.format} content {what}", location)
