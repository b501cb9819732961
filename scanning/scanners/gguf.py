"""GGUF scanner (llama.cpp models): reads the metadata key-value pairs with bounded reads and
checks the chat templates among them. Tensor data cannot carry code and is never read.

Layout: magic, version (uint32), tensor count and key-value count (uint64; uint32 in
version 1), then typed key-value pairs. Strings are a length and UTF-8 bytes, arrays an
element type, a count and the elements.
"""

import struct

from . import templates
from .blob import Blob
from .context import Context, Kind

MAGIC = b"GGUF"
_STRING, _ARRAY = 8, 9
# Sizes of the fixed-size value types, by type number.
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_MAX_KEY = 65_535
# Templates are a few KB; longer strings are skipped unread unless they are templates.
_MAX_TEMPLATE = 4 * 2**20
_TEMPLATE_KEY = "tokenizer.chat_template"


class GGUFError(ValueError):
    pass


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind:
    try:
        for key, template in _Reader(blob).templates():
            templates.check(template, f"{location}:{key}", context)
    except (GGUFError, UnicodeDecodeError, struct.error) as error:
        context.fail("gguf.invalid_metadata", f"the GGUF metadata cannot be read: {error}",
                     location)
    return Kind("gguf", "gguf")


class _Reader:
    def __init__(self, blob: Blob) -> None:
        self._stream = blob.open()
        self._size = blob.size

    def templates(self) -> list[tuple[str, str]]:
        self._read(4)
        (version,) = struct.unpack("<I", self._read(4))
        if version not in (1, 2, 3):
            raise GGUFError(f"unknown version {version}")
        self._count_format = "<I" if version == 1 else "<Q"
        self._count_size = struct.calcsize(self._count_format)
        self._count()  # tensors: their infos follow the metadata and are not needed
        found = []
        for _ in range(self._count()):
            key = self._string(_MAX_KEY)
            if key is None:
                raise GGUFError("a metadata key is too long")
            (value_type,) = struct.unpack("<I", self._read(4))
            template = key == _TEMPLATE_KEY or key.startswith(_TEMPLATE_KEY + ".")
            if template and value_type == _STRING:
                value = self._string(_MAX_TEMPLATE)
                if value is None:
                    raise GGUFError(f"{key} is over {_MAX_TEMPLATE} bytes")
                found.append((key, value))
            else:
                self._skip_value(value_type)
        return found

    def _skip_value(self, value_type: int) -> None:
        if value_type in _FIXED:
            self._skip(_FIXED[value_type])
        elif value_type == _STRING:
            self._skip(self._count())
        elif value_type == _ARRAY:
            (element_type,) = struct.unpack("<I", self._read(4))
            count = self._count()
            if element_type in _FIXED:
                self._skip(count * _FIXED[element_type])
            elif element_type == _STRING:
                for _ in range(count):  # vocabularies: 100k+ strings, each a read and a seek
                    self._skip(self._count())
            else:  # nested arrays exist in the spec, never in practice
                raise GGUFError(f"arrays of type {element_type} are not supported")
        else:
            raise GGUFError(f"unknown value type {value_type}")

    def _count(self) -> int:
        (count,) = struct.unpack(self._count_format, self._read(self._count_size))
        # Every counted thing takes at least a byte: a count beyond the file is a lie.
        if count > self._size:
            raise GGUFError(f"count {count} is larger than the file")
        return count

    def _string(self, limit: int) -> str | None:
        length = self._count()
        if length > limit:
            self._skip(length)
            return None
        return self._read(length).decode("utf-8")

    def _skip(self, length: int) -> None:
        end = self._stream.tell() + length
        if end > self._size:
            raise GGUFError("the metadata runs past the end of the file")
        self._stream.seek(end)

    def _read(self, length: int) -> bytes:
        data = self._stream.read(length)
        if len(data) != length:
            raise GGUFError("the metadata runs past the end of the file")
        return data
