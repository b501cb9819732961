"""A streaming reader of protobuf wire format, for the formats that are protobufs (ONNX,
TensorFlow SavedModel): it descends only into the fields a schema names and skips the rest
with a seek, so embedded weights cost nothing, and it needs no protobuf library.
"""

from typing import BinaryIO

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_MAX_DEPTH = 64  # graphs nest through attributes and functions; real models stay far below
_MAX_STRING = 64 * 1024


class WireError(ValueError):
    pass


class Walker:
    """Walks messages by a schema: `messages` maps a message name to {field number: message
    name} for the fields to descend into; `strings` names the (message, field) strings to read.
    Subclasses see each message's strings in `collect`, when the message closes."""

    def __init__(
        self, stream: BinaryIO, messages: dict[str, dict[int, str]], strings: set[tuple[str, int]]
    ) -> None:
        self._stream = stream
        self._messages = messages
        self._strings = strings

    def collect(self, kind: str, strings: dict[int, str]) -> None:
        pass

    def message(self, kind: str, end: int, depth: int) -> dict[int, object]:
        """Reads a message up to `end`; returns its varint fields and, as True, the fields
        of its messages that were descended into."""
        if depth > _MAX_DEPTH:
            raise WireError("messages nested too deeply")
        facts: dict[int, object] = {}
        strings: dict[int, str] = {}
        children = self._messages[kind]
        while (position := self._stream.tell()) < end:
            key = self._varint()
            number, wire_type = key >> 3, key & 7
            if number == 0:
                raise WireError(f"field number 0 at offset {position}")
            if wire_type == _VARINT:
                facts[number] = self._varint()
            elif wire_type == _LENGTH:
                length = self._varint()
                field_end = self._stream.tell() + length
                if field_end > end:
                    raise WireError(f"field {number} runs past its message")
                if number in children:
                    self.message(children[number], field_end, depth + 1)
                    facts[number] = True
                elif (kind, number) in self._strings and length <= _MAX_STRING:
                    strings[number] = self._read(length).decode("utf-8", "replace")
                else:
                    self._stream.seek(field_end)
            elif wire_type in (_FIXED64, _FIXED32):
                self._read(8 if wire_type == _FIXED64 else 4)
            else:
                raise WireError(f"wire type {wire_type} at offset {position}")
        if self._stream.tell() != end:
            raise WireError("a field runs past its message")
        self.collect(kind, strings)
        return facts

    def _varint(self) -> int:
        result = 0
        for shift in range(0, 70, 7):
            byte = self._read(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
        raise WireError("varint longer than 10 bytes")

    def _read(self, length: int) -> bytes:
        data = self._stream.read(length)
        if len(data) != length:
            raise EOFError("truncated")
        return data
