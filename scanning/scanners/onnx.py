"""ONNX scanner: finds tensors whose external data would be read from outside the model folder.

ONNX is a protobuf without magic bytes, so content counts as ONNX only when it parses as a
ModelProto with an ir_version and a graph. The protobuf is walked as a stream rather than
loaded with the onnx package: weights embedded in the model (raw_data) are skipped with a
seek, so a 2 GB model costs a few reads and constant memory, and onnx is not needed at all.
"""

from typing import BinaryIO

from . import paths
from .blob import Blob
from .context import Context, Kind
from .result import Severity

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_MAX_DEPTH = 64  # graphs nest through If/Loop attributes; real models stay far below
_MAX_STRING = 64 * 1024


class WireError(ValueError):
    pass


# Which fields of each message to descend into: field number -> message name. Everything else
# is skipped. Names follow onnx.proto.
_MESSAGES: dict[str, dict[int, str]] = {
    "ModelProto": {7: "GraphProto", 20: "TrainingInfoProto", 25: "FunctionProto"},
    "GraphProto": {1: "NodeProto", 5: "TensorProto", 15: "SparseTensorProto"},
    "NodeProto": {5: "AttributeProto"},
    "FunctionProto": {7: "NodeProto"},
    "TrainingInfoProto": {1: "GraphProto", 2: "GraphProto"},
    "AttributeProto": {
        5: "TensorProto",
        6: "GraphProto",
        10: "TensorProto",
        11: "GraphProto",
        22: "SparseTensorProto",
        23: "SparseTensorProto",
    },  # fmt: skip
    "SparseTensorProto": {1: "TensorProto", 2: "TensorProto"},
    "TensorProto": {13: "StringStringEntryProto"},
    "StringStringEntryProto": {},
}
# String fields worth reading: TensorProto.name, StringStringEntryProto.key and .value.
_STRINGS = {("TensorProto", 8), ("StringStringEntryProto", 1), ("StringStringEntryProto", 2)}


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind | None:
    """Scans ONNX content, or returns None (recording nothing) when the content is not ONNX."""
    if blob.prefix(1) != b"\x08":  # field 1 (ir_version), a varint: how every model starts
        return None
    walker = _Walker(blob.open())
    try:
        model = walker.message("ModelProto", blob.size, depth=0)
    except (WireError, EOFError):
        return None
    if not model.get("ir_version") or not model.get("graph"):
        return None
    for tensor, path in walker.external_locations:
        if paths.escapes(path) or "\x00" in path:
            context.add(
                Severity.HIGH,
                "onnx.external_data_escape",
                f"tensor {tensor!r} reads its data from {path!r}, outside the model's folder",
                location,
            )
    return Kind("onnx", "onnx")


class _Walker:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.external_locations: list[tuple[str, str]] = []
        # An entry is read before its tensor's name (field 13 may precede field 8 in the
        # stream), so locations wait here until their tensor closes.
        self._pending: list[str] = []

    def message(self, kind: str, end: int, depth: int) -> dict[str, object]:
        """Reads a message up to `end`; returns what the caller needs to know about it."""
        if depth > _MAX_DEPTH:
            raise WireError("messages nested too deeply")
        facts: dict[str, object] = {}
        strings: dict[int, str] = {}
        children = _MESSAGES[kind]
        while (position := self._stream.tell()) < end:
            key = self._varint()
            number, wire_type = key >> 3, key & 7
            if number == 0:
                raise WireError(f"field number 0 at offset {position}")
            if wire_type == _VARINT:
                value = self._varint()
                if kind == "ModelProto" and number == 1:
                    facts["ir_version"] = value
            elif wire_type == _LENGTH:
                length = self._varint()
                field_end = self._stream.tell() + length
                if field_end > end:
                    raise WireError(f"field {number} runs past its message")
                if number in children:
                    self.message(children[number], field_end, depth + 1)
                    if kind == "ModelProto" and number == 7:
                        facts["graph"] = True
                elif (kind, number) in _STRINGS and length <= _MAX_STRING:
                    strings[number] = self._read(length).decode("utf-8", "replace")
                else:
                    self._stream.seek(field_end)
            elif wire_type in (_FIXED64, _FIXED32):
                self._read(8 if wire_type == _FIXED64 else 4)
            else:
                raise WireError(f"wire type {wire_type} at offset {position}")
        if self._stream.tell() != end:
            raise WireError("a field runs past its message")
        self._collect(kind, strings)
        return facts

    def _collect(self, kind: str, strings: dict[int, str]) -> None:
        if kind == "StringStringEntryProto" and strings.get(1) == "location":
            self._pending.append(strings.get(2, ""))
        elif kind == "TensorProto":
            name = strings.get(8, "?")
            self.external_locations.extend((name, path) for path in self._pending)
            self._pending.clear()

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
