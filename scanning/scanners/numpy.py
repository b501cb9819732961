"""NumPy .npy scanner: parses the header as a literal; object arrays are pickles.

Pure Python on purpose (no numpy import): the header is a Python dict literal, read with
ast.literal_eval exactly as numpy does, and an object dtype is recognised from its descr.
"""

import ast
import struct

from . import pickle
from .blob import Blob
from .context import Context, Kind
from .result import Severity

MAGIC = b"\x93NUMPY"
_KEYS = {"descr", "fortran_order", "shape"}


class HeaderError(ValueError):
    pass


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    kind = Kind("numpy", "npy")
    try:
        header, data_offset = _read_header(blob, context.limits.max_npy_header_bytes)
        has_objects = _has_objects(header["descr"])
    except (HeaderError, ValueError, SyntaxError, MemoryError, RecursionError) as error:
        context.fail("numpy.invalid_header", f"the .npy header cannot be read: {error}", location)
        return kind
    if has_objects:
        context.add(
            Severity.HIGH,
            "numpy.object_array",
            f"dtype {header['descr']!r} holds Python objects, stored as a pickle that "
            "np.load(allow_pickle=True) unpickles",
            location,
        )
        payload = blob.slice(data_offset, blob.size - data_offset)
        pickle.scan(payload, location, context, claim=pickle.Claim.CLAIMED, offset=data_offset)
    return kind


def _read_header(blob: Blob, limit: int) -> tuple[dict[str, object], int]:
    start = blob.read_at(0, 12)
    if len(start) < 10:
        raise HeaderError("truncated")
    major = start[6]
    if major == 1:
        (length,) = struct.unpack_from("<H", start, 8)
        header_offset = 10
    elif major in (2, 3):
        if len(start) < 12:
            raise HeaderError("truncated")
        (length,) = struct.unpack_from("<I", start, 8)
        header_offset = 12
    else:
        raise HeaderError(f"unknown format version {major}")
    if length > limit:
        raise HeaderError(f"header of {length} bytes is over the {limit} byte limit")
    raw = blob.read_at(header_offset, length)
    if len(raw) != length:
        raise HeaderError("truncated")
    header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin-1"))
    if not isinstance(header, dict) or set(header) != _KEYS:
        raise HeaderError(f"header keys must be {sorted(_KEYS)}")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise HeaderError(f"bad shape {shape!r}")
    if not isinstance(header["fortran_order"], bool):
        raise HeaderError("fortran_order must be a bool")
    return header, header_offset + length


def _has_objects(descr: object) -> bool:
    """Whether a descr (a type string, or a list of fields) contains an object type anywhere."""
    if isinstance(descr, str):
        # np.dtype accepts "O", "|O8", "object", and comma-separated field lists like "f8,O".
        return "O" in descr or "object" in descr.lower()
    if isinstance(descr, list):
        return any(_field_has_objects(field) for field in descr)
    raise HeaderError(f"bad descr {descr!r}")


def _field_has_objects(field: object) -> bool:
    # (name, type) or (name, type, shape); name may be a (title, name) pair.
    if not isinstance(field, tuple) or len(field) not in (2, 3):
        raise HeaderError(f"bad field {field!r}")
    return _has_objects(field[1])
