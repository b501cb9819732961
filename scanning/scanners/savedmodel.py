"""TensorFlow SavedModel graphs (saved_model.pb): the operators of every graph and function.

Loading a SavedModel and calling it runs its graph, and some TensorFlow operators read or
write any file or call back into Python. A SavedModel is a protobuf without magic bytes; it
counts as one when it parses as a SavedModel with schema version 1 and a graph.
"""

from typing import BinaryIO

from .blob import Blob
from .context import Context, Kind
from .protowire import Walker, WireError
from .result import Severity

# Field numbers follow tensorflow/core/protobuf/saved_model.proto, meta_graph.proto,
# framework/graph.proto and function.proto.
_MESSAGES: dict[str, dict[int, str]] = {
    "SavedModel": {2: "MetaGraphDef"},
    "MetaGraphDef": {2: "GraphDef"},
    "GraphDef": {1: "NodeDef", 2: "FunctionDefLibrary"},
    "FunctionDefLibrary": {1: "FunctionDef"},
    "FunctionDef": {3: "NodeDef"},
    "NodeDef": {},
}
_STRINGS = {("NodeDef", 2)}  # NodeDef.op
# Operators that reach files or Python whatever inputs they get. Save and restore operators
# are in every SavedModel (its checkpoint functions) and are not flagged.
DANGEROUS_OPS = frozenset({
    "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "WholeFileReader",
    "WholeFileReaderV2", "PyFunc", "PyFuncStateless", "EagerPyFunc",
})  # fmt: skip


class _Walker(Walker):
    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(stream, _MESSAGES, _STRINGS)
        self.ops: set[str] = set()
        self.graphs = 0

    def collect(self, kind: str, strings: dict[int, str]) -> None:
        if kind == "NodeDef":
            self.ops.add(strings.get(2, ""))
        elif kind == "GraphDef":
            self.graphs += 1


def scan(blob: Blob, location: str, context: Context, nesting: int) -> Kind | None:
    """Scans a SavedModel, or returns None (recording nothing) when the content is not one."""
    if blob.prefix(2) != b"\x08\x01":  # saved_model_schema_version = 1, written first
        return None
    walker = _Walker(blob.open())
    try:
        walker.message("SavedModel", blob.size, depth=0)
    except (WireError, EOFError):
        return None
    if not walker.graphs:
        return None
    for op in sorted(walker.ops & DANGEROUS_OPS):
        context.add(
            Severity.HIGH,
            "savedmodel.dangerous_op",
            f"the graph uses {op}, which reads or writes files or runs Python when called",
            location,
        )
    return Kind("savedmodel", "savedmodel")
