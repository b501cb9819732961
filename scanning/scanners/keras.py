"""Keras model configs (HDF5 `model_config`, .keras `config.json`, `model.to_json()` files).

A Lambda layer stores its function as marshalled bytecode that Keras runs when the model is
loaded; a config also names the modules that Keras imports to build each object, so every
module and class must be on an allowlist of Keras' building blocks.
"""

import json

from . import templates
from .blob import Blob
from .context import Context, Kind
from .pickle_policy import judge
from .result import Severity

_LAMBDAS = frozenset({"Lambda", "__lambda__"})
# Layers that load other files or models when built, whatever safe_mode says (TFSMLayer loads
# a SavedModel, whose graph may read and write files).
_LOADERS = frozenset({"TFSMLayer"})
# Keras 3 names the module of every object it builds and imports it, safe_mode or not
# (CVE-2025-1550); later bypasses name Keras' own utilities (keras.utils.get_file) or any
# function through {"class_name": "function"}. So every module must be one of Keras' packages
# of building blocks: not utils, saving, backend or ops, which reach files and code.
_PACKAGES = (
    "layers", "models", "initializers", "regularizers", "constraints", "optimizers",
    "losses", "metrics", "activations", "dtype_policies", "engine", "mixed_precision",
)  # fmt: skip
_ROOTS = ("keras", "tf_keras", "keras.src", "tf_keras.src", "tensorflow.keras")
_TOP_LEVEL = frozenset({"keras", "tf_keras"})  # the packages themselves, not all they hold
ALLOWED_PACKAGES = frozenset(f"{root}.{package}" for root in _ROOTS for package in _PACKAGES)
# Functions may only be referenced from these packages, and only by a plain name.
_FUNCTION_PACKAGES = frozenset({"activations", "losses", "metrics", "initializers"})
# Internal markers of Keras 3 configs, with no module: tensors, numpy arrays, slices, ...
_MARKERS = frozenset({
    "__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__typespec__",
    "__ellipsis__", "__slice__", "__tuple__", "__dtype__",
})  # fmt: skip


def check_config(text: str | bytes, location: str, context: Context) -> None:
    """Flags Lambda layers and foreign modules anywhere in a JSON config.

    Raises ValueError (or RecursionError) when the text is not JSON.
    """
    _walk(json.loads(text), location, context)


def scan_json(blob: Blob, prefix: bytes, location: str, context: Context) -> Kind | None:
    """A stand-alone JSON model config (Keras, or a tokenizer config with chat templates), or
    None when the content is not one."""
    if not prefix.lstrip().startswith(b"{") or blob.size > context.limits.max_json_config_bytes:
        return None
    try:
        config = json.loads(blob.read_at(0, blob.size))
    except (ValueError, RecursionError):
        return None
    if isinstance(config, dict) and "chat_template" in config:
        _check_templates(config["chat_template"], location, context)
        return Kind("json", "tokenizer-config")
    if not isinstance(config, dict) or "class_name" not in config:
        return None
    _walk(config, location, context)
    return Kind("keras", "keras-json")


def _check_templates(value: object, location: str, context: Context) -> None:
    """tokenizer_config.json: one template, or a list of named ones."""
    named = value if isinstance(value, list) else [{"template": value}]
    for entry in named:
        template = entry.get("template") if isinstance(entry, dict) else None
        if isinstance(template, str):
            templates.check(template, f"{location}:chat_template", context)


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


def _allowed_module(module: str) -> bool:
    parts = module.split(".")
    # Submodules of an allowed package (keras.src.layers.core.dense) are allowed too.
    return module in _TOP_LEVEL or any(
        ".".join(parts[:i]) in ALLOWED_PACKAGES for i in range(2, len(parts) + 1)
    )


def _function_module(module: str) -> bool:
    return _allowed_module(module) and bool(set(module.split(".")) & _FUNCTION_PACKAGES)


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
        return
    if class_name in _LOADERS:
        context.add(
            Severity.HIGH,
            "keras.loader_layer",
            f"{class_name} loads another model from a path when the model is loaded",
            location,
        )
        return
    if "module" not in node:
        # Keras 2 configs name classes only, looked up in Keras' registry and the caller's
        # custom objects, never imported; Keras 3 markers carry no module either.
        return
    module, registered = node.get("module"), node.get("registered_name")
    if not isinstance(module, str) or not isinstance(class_name, str):
        _external(f"{module!r}.{class_name!r}", Severity.MEDIUM, location, context)
        return
    if class_name == "function":
        target = node.get("config")
        if isinstance(target, str) and target.isidentifier() and _function_module(module):
            return
        dangerous = isinstance(target, str) and judge(module, target) is Severity.CRITICAL
        _external(f"{module}.{target}", _severity(dangerous), location, context)
        return
    if class_name in _MARKERS and module is None:
        return
    if not _allowed_module(module) or not class_name.isidentifier():
        dangerous = judge(module, class_name) is Severity.CRITICAL
        _external(f"{module}.{class_name}", _severity(dangerous), location, context)
    elif registered not in (None, class_name, f"{module}>{class_name}"):
        # A registered name is how custom objects are found: one that is not the class's own
        # builds whatever was registered under it.
        _external(f"registered object {registered!r}", Severity.MEDIUM, location, context)


def _severity(dangerous: bool) -> Severity:
    return Severity.CRITICAL if dangerous else Severity.MEDIUM


def _external(what: str, severity: Severity, location: str, context: Context) -> None:
    code = "keras.dangerous_module" if severity is Severity.CRITICAL else "keras.external_module"
    context.add(
        severity,
        code,
        f"the config makes Keras import {what} when loading, outside its allowlist",
        location,
    )
