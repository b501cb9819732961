"""Keras model configs (HDF5 `model_config`, .keras `config.json`, `model.to_json()` files).

A Lambda layer stores its function as marshalled bytecode that Keras runs when the model is
loaded; a config may also name modules that Keras imports to build custom objects.
"""

import json

from .blob import Blob
from .context import Context, Kind
from .pickle_policy import judge
from .result import Severity

_LAMBDAS = frozenset({"Lambda", "__lambda__"})
_KERAS_MODULES = ("keras", "tf_keras", "tensorflow")


def check_config(text: str | bytes, location: str, context: Context) -> None:
    """Flags Lambda layers and foreign modules anywhere in a JSON config.

    Raises ValueError (or RecursionError) when the text is not JSON.
    """
    _walk(json.loads(text), location, context)


def scan_json(blob: Blob, prefix: bytes, location: str, context: Context) -> Kind | None:
    """A stand-alone JSON model config, or None when the content is not one."""
    if not prefix.lstrip().startswith(b"{") or blob.size > context.limits.max_json_config_bytes:
        return None
    try:
        config = json.loads(blob.read_at(0, blob.size))
    except (ValueError, RecursionError):
        return None
    if not isinstance(config, dict) or "class_name" not in config:
        return None
    _walk(config, location, context)
    return Kind("keras", "keras-json")


def _walk(node: object, location: str, context: Context) -> None:
    # Iterative: configs nest deeply and come from strangers.
    pending = [node]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            _check_object(node, location, context)
            pending.extend(node.values())


def _check_object(node: dict[str, object], location: str, context: Context) -> None:
    class_name = node.get("class_name")
    if class_name in _LAMBDAS:
        config = node.get("config")
        name = config.get("name", "?") if isinstance(config, dict) else "?"
        context.add(
            Severity.HIGH,
            "keras.lambda_layer",
            f"{class_name} {name!r} carries Python bytecode that runs when the model is loaded",
            location,
        )
    module = node.get("module")
    if isinstance(module, str) and isinstance(class_name, str):
        if module.split(".")[0] in _KERAS_MODULES:
            return
        if judge(module, class_name) is Severity.CRITICAL:
            severity, code = Severity.CRITICAL, "keras.dangerous_module"
        else:
            severity, code = Severity.MEDIUM, "keras.external_module"
        context.add(
            severity,
            code,
            f"the config makes Keras import {module}.{class_name} when loading",
            location,
        )
