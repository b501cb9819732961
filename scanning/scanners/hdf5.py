"""HDF5 scanner (Keras .h5 models): checks the JSON configs stored in the root attributes.

h5py reads through a Python file object, so S3-backed streams work as well as local files.
"""

from typing import Any

from .blob import Blob
from .context import Context, Kind
from .keras import check_config

SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The superblock may follow a user block of 512, 1024, 2048, ... bytes.
_USERBLOCK_OFFSETS = tuple(512 << shift for shift in range(7))


def userblock_offset(prefix: bytes) -> int:
    """Where the superblock sits behind a user block within `prefix`, 0 if it does not."""
    for offset in _USERBLOCK_OFFSETS:
        if prefix[offset : offset + len(SIGNATURE)] == SIGNATURE:
            return offset
    return 0


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    kind = Kind("hdf5", "hdf5")
    try:
        import h5py  # imported here: heavy, and only HDF5 content needs it
    except ImportError:
        context.fail("hdf5.unavailable", "h5py is missing: HDF5 cannot be inspected", location)
        return kind
    blob = blob.with_random_access(context.resources)
    try:
        with h5py.File(blob.open(), "r") as file:
            configs = _read_configs(file, h5py, context.limits.max_json_config_bytes)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        context.fail("hdf5.parse_error", f"the HDF5 file cannot be read: {error}", location)
        return kind
    for name, text in configs:
        if text is None:
            context.fail("hdf5.parse_error", f"attribute {name} is over the size limit", location)
            continue
        kind = Kind("hdf5", "keras-hdf5")
        try:
            check_config(text, f"{location}:{name}", context)
        except (ValueError, RecursionError) as error:
            context.fail("keras.invalid_config", f"{name} is not JSON: {error}", location)
    return kind


def _read_configs(file: Any, h5py: Any, limit: int) -> list[tuple[str, str | bytes | None]]:
    """Root attributes holding JSON objects (Keras keeps `model_config` there); None for an
    attribute too large to read."""
    configs: list[tuple[str, str | bytes | None]] = []
    for name in file.attrs:
        if h5py.h5a.open(file.id, name.encode()).get_storage_size() > limit:
            configs.append((name, None))
            continue
        value = file.attrs[name]
        if isinstance(value, bytes | str) and value.lstrip()[:1] in (b"{", "{"):
            configs.append((name, value))
    return configs
