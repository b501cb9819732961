"""ONNX scanner: finds tensors whose external data would be read from outside the model folder,
and operators of custom domains (native code the runtime loads from elsewhere).

ONNX is a protobuf without magic bytes, so content counts as ONNX only when it parses as a
ModelProto with an ir_version and a graph. The protobuf is walked as a stream rather than
loaded with the onnx package: weights embedded in the model (raw_data) are skipped with a
seek, so a 2 GB model costs a few reads and constant memory, and onnx is not needed at all.
"""

from typing import BinaryIO

from . import paths
from .blob import Blob
from .context import Context, Kind
from .protowire import Walker, WireError
from .result import Severity

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
# String fields worth reading: TensorProto.name, StringStringEntryProto.key and .value,
# NodeProto.op_type and .domain, FunctionProto.name and .domain.
_STRINGS = {
    ("TensorProto", 8), ("StringStringEntryProto", 1), ("StringStringEntryProto", 2),
    ("NodeProto", 4), ("NodeProto", 7), ("FunctionProto", 1), ("FunctionProto", 10),
}  # fmt: skip
# Operators of these domains ship with ONNX and onnxruntime (com.microsoft: its contrib ops).
# Any other domain is a custom operator, which a runtime finds in a native library that it
# must be told to load: code outside the model, and outside the scan.
STANDARD_DOMAINS = frozenset({
    "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
    "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental",
})  # fmt: skip


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind | None:
    """Scans ONNX content, or returns None (recording nothing) when the content is not ONNX."""
    if blob.prefix(1) != b"\x08":  # field 1 (ir_version), a varint: how every model starts
        return None
    walker = _Walker(blob.open())
    try:
        model = walker.message("ModelProto", blob.size, depth=0)
    except (WireError, EOFError):
        return None
    if not model.get(1) or not model.get(7):  # ir_version, graph
        return None
    for domain, op_type in sorted(walker.nodes - walker.functions):
        if domain not in STANDARD_DOMAINS:
            context.add(
                Severity.MEDIUM,
                "onnx.custom_operator",
                f"operator {op_type!r} of the custom domain {domain!r} runs code from a native "
                "library outside the model",
                location,
            )
    for tensor, path in walker.external_locations:
        if paths.escapes(path) or "\x00" in path:
            context.add(
                Severity.HIGH,
                "onnx.external_data_escape",
                f"tensor {tensor!r} reads its data from {path!r}, outside the model's folder",
                location,
            )
    return Kind("onnx", "onnx")


class _Walker(Walker):
    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(stream, _MESSAGES, _STRINGS)
        self.external_locations: list[tuple[str, str]] = []
        self.nodes: set[tuple[str, str]] = set()  # (domain, op_type)
        self.functions: set[tuple[str, str]] = set()  # model-local functions, by domain and name
        # An entry is read before its tensor's name (field 13 may precede field 8 in the
        # stream), so locations wait here until their tensor closes.
        self._pending: list[str] = []

    def collect(self, kind: str, strings: dict[int, str]) -> None:
        if kind == "StringStringEntryProto" and strings.get(1) == "location":
            self._pending.append(strings.get(2, ""))
        elif kind == "NodeProto":
            self.nodes.add((strings.get(7, ""), strings.get(4, "")))
        elif kind == "FunctionProto":
            self.functions.add((strings.get(10, ""), strings.get(1, "")))
        elif kind == "TensorProto":
            name = strings.get(8, "?")
            self.external_locations.extend((name, path) for path in self._pending)
            self._pending.clear()
