"""TorchScript archives (torch.jit.save): a PyTorch zip whose code/ folder holds the model's
TorchScript source, which torch.jit.load compiles and runs (and which torch.load runs too: it
hands such archives to torch.jit.load, weights_only or not, CVE-2025-32434).

TorchScript cannot import Python modules, but its operators reach files and native code:
aten::save writes and aten::from_file reads any path, torch.ops.<namespace> calls operators
from loaded libraries. Those are flagged; the pickles (data.pkl, constants.pkl) are scanned
as pickles, their `__torch__` classes resolving to the archive's own code.
"""

import re

from .blob import Blob
from .context import Context
from .result import Severity

CODE = re.compile(r"^[^/]+/code/.+\.py$")
_MAX_CODE_BYTES = 64 * 2**20
# torch.ops namespaces that ship with PyTorch.
_BUILTIN_NAMESPACES = "aten|prim|quantized|_quantized|profiler|_caffe2|rngprim|cuda|mkldnn"
_DANGEROUS = {
    "file access": re.compile(r"\b(?:torch\.|aten::|ops\.aten\.)(?:save|load|from_file)\b"),
    "custom operator": re.compile(rf"\btorch\.ops\.(?!(?:{_BUILTIN_NAMESPACES})\b)\w+"),
    "Python escape": re.compile(
        r"\b(?:__import__|exec|eval|compile|getattr|open)\s*\("
        r"|__(?:class|globals|builtins|subclasses|mro|dict|getattribute)__"
    ),
}


def check_code(blob: Blob, location: str, context: Context) -> None:
    if blob.size > _MAX_CODE_BYTES:
        context.fail("torchscript.code_too_large",
                     f"TorchScript source over {_MAX_CODE_BYTES} bytes is not inspected", location)
        return
    code = blob.read_at(0, blob.size).decode("utf-8", "replace")
    for what, pattern in _DANGEROUS.items():
        match = pattern.search(code)
        if match:
            context.add(
                Severity.HIGH,
                "torchscript.dangerous_code",
                f"the TorchScript code uses {what} ({match.group()!r}), which runs when the "
                "model is loaded or called",
                location,
            )
