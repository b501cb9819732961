"""safetensors scanner: validates the JSON header as the safetensors library would, without
reading any tensor data. The format cannot carry code; a malformed header is what attacks
loaders (overlapping or out-of-bounds offsets, absurd sizes)."""

import json
import math
import struct

from .blob import Blob
from .context import Context, Kind

# Bits per element of the dtypes safetensors defines.
_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip
_TENSOR_KEYS = {"dtype", "shape", "data_offsets"}


class HeaderError(ValueError):
    pass


def has_header(prefix: bytes, size: int) -> bool:
    """An 8-byte length that fits the file, followed by the opening brace of a JSON object."""
    if len(prefix) < 9 or prefix[8:9] != b"{":
        return False
    (length,) = struct.unpack_from("<Q", prefix)
    return 2 <= length <= size - 8


def may_be_header(prefix: bytes) -> bool:
    """A safetensors start whose length does not fit: a truncated or tampered file, or an
    absurd length. The length must look binary (text such as `var x = {` is not one)."""
    if len(prefix) < 10 or prefix[8:9] != b"{" or prefix[9:10] not in b'"} \t\r\n':
        return False
    return prefix[4:8] == b"\x00" * 4 or any(byte < 0x20 or byte > 0x7E for byte in prefix[:8])


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    try:
        _validate(blob, context.limits.max_safetensors_header_bytes)
    except (ValueError, RecursionError) as error:  # HeaderError, JSON and UTF-8 errors
        # Not readable as safetensors means not inspected: an error, never a pass.
        context.fail("safetensors.invalid_header", str(error), location)
    return Kind("safetensors", "safetensors")


def _validate(blob: Blob, limit: int) -> None:
    (length,) = struct.unpack("<Q", blob.read_at(0, 8))
    if length > limit:
        raise HeaderError(f"header length {length} is over the {limit} byte limit")
    if length > blob.size - 8:
        raise HeaderError(f"header length {length} runs past the end of the file")
    header = json.loads(
        blob.read_at(8, length).decode("utf-8"), object_pairs_hook=_refuse_duplicates
    )
    if not isinstance(header, dict):
        raise HeaderError("the header is not a JSON object")
    data_size = blob.size - 8 - length
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(value, str) for value in entry.values()
            ):
                raise HeaderError("__metadata__ must map strings to strings")
            continue
        spans.append((*_tensor_span(name, entry), name))
    # The library insists that the tensors tile the data exactly, in offset order.
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise HeaderError(f"tensor {name!r} starts at {begin}, expected {position}")
        position = end
    if position != data_size:
        raise HeaderError(f"tensors cover {position} bytes of data, the file holds {data_size}")


def _tensor_span(name: str, entry: object) -> tuple[int, int]:
    if not isinstance(entry, dict) or set(entry) != _TENSOR_KEYS:
        raise HeaderError(f"tensor {name!r} must have exactly {sorted(_TENSOR_KEYS)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPE_BITS:
        raise HeaderError(f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise HeaderError(f"tensor {name!r} has a bad shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise HeaderError(f"tensor {name!r} has bad data_offsets {offsets!r}")
    begin, end = offsets
    bits = math.prod(shape) * _DTYPE_BITS[dtype]
    if end < begin or bits % 8 or end - begin != bits // 8:
        raise HeaderError(f"tensor {name!r}: data_offsets {offsets} do not fit {dtype}{shape}")
    return begin, end


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise HeaderError("duplicate keys in the header")
    return dict(pairs)
