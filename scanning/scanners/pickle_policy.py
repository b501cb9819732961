"""Which globals a pickle may import: a default-deny allowlist plus a denylist of known gadgets.

Importing a global is the only way a pickle reaches code, so judging every (module, name) it
imports is enough. A global on the allowlist is plain data or a tensor/array rebuilder that
ML pickles legitimately use; a global on the denylist executes code, touches files, processes
or the network, or loads another pickle; everything else is unknown and denied by default.
"""

import _compat_pickle  # the Unpickler's own table of Python 2 names (fix_imports)
import re
from dataclasses import dataclass

from .result import Severity

_TORCH_STORAGES = [
    f"{kind}Storage"
    for kind in (
        "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
        "ComplexFloat", "ComplexDouble", "QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4",
        "Untyped", "Typed",
    )
]  # fmt: skip
_TORCH_DTYPES = [
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32",
    "complex64", "cfloat", "complex128", "cdouble", "uint8", "uint16", "uint32", "uint64",
    "int8", "int16", "short", "int32", "int", "int64", "long", "bool", "qint8", "quint8",
    "qint32", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
    "float8_e5m2fnuz", "float8_e8m0fnu",
]  # fmt: skip
_TORCH_REBUILDERS = [
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy", "_rebuild_qtensor",
    "_rebuild_sparse_tensor", "_rebuild_nested_tensor", "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_cpu_tensor",
]  # fmt: skip

ALLOWED: dict[str, frozenset[str]] = {
    module: frozenset(names)
    for module, names in {
        "builtins": [
            "set", "frozenset", "slice", "complex", "bytearray", "bytes", "dict", "list",
            "tuple", "int", "float", "str", "bool", "range", "object", "Ellipsis",
            "NotImplemented",
        ],
        "collections": ["OrderedDict", "defaultdict", "Counter", "deque"],
        "copyreg": ["_reconstructor"],  # protocol 0/1 object rebuilding; the class is checked
        "_codecs": ["encode"],  # how protocol 2 stores bytes
        "datetime": ["datetime", "date", "time", "timedelta", "timezone"],
        "decimal": ["Decimal"],
        "fractions": ["Fraction"],
        "uuid": ["UUID"],
        "numpy": ["ndarray", "dtype"],
        "numpy.core.multiarray": ["_reconstruct", "scalar"],
        "numpy._core.multiarray": ["_reconstruct", "scalar"],
        "numpy.core.numeric": ["_frombuffer"],
        "numpy._core.numeric": ["_frombuffer"],
        "torch": [
            *_TORCH_STORAGES, *_TORCH_DTYPES, "Size", "device", "strided", "sparse_coo",
            "sparse_csr", "contiguous_format", "channels_last", "channels_last_3d",
            "preserve_format", "per_tensor_affine", "per_channel_affine",
            "per_tensor_symmetric", "per_channel_symmetric",
        ],
        "torch._utils": _TORCH_REBUILDERS,
        "torch._tensor": ["_rebuild_from_type_v2"],  # calls a rebuilder that is itself checked
        "torch.storage": ["TypedStorage", "UntypedStorage"],
        "torch.nn.parameter": ["Parameter"],
        # joblib's array container; the scan reads past its array bytes as joblib does
        "joblib.numpy_pickle": ["NumpyArrayWrapper"],
        # TorchScript's pickles rebuild lists and tensors with these
        "torch.jit._pickle": [
            "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist",
            "build_tensor_from_id", "restore_type_tag",
        ],
    }.items()
}  # fmt: skip

# TorchScript's unpickler resolves classes of this pseudo-module to the archive's compiled
# code (checked by the TorchScript scanner); no Python module of that name can be imported.
TORCHSCRIPT_CLASSES = "__torch__"

# Modules whose every global is dangerous (the module itself and all its submodules).
DENIED_MODULES = frozenset({
    # processes, interpreters and code execution
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "sys", "runpy", "pty", "code",
    "codeop", "commands", "popen2", "platform", "pdb", "bdb", "trace", "timeit", "cProfile",
    "profile", "pydoc", "idlelib", "ctypes", "_ctypes", "cffi", "multiprocessing", "asyncio",
    "threading", "_thread", "signal", "atexit", "gc", "inspect",
    # importing and installing code
    "importlib", "imp", "zipimport", "pkgutil", "site", "sysconfig", "distutils", "setuptools",
    "pip", "ensurepip", "venv",
    # files
    "io", "_io", "shutil", "tempfile", "pathlib", "glob", "fileinput", "tarfile", "zipfile",
    "shelve", "dbm", "sqlite3", "linecache", "logging",
    # network and browsers
    "socket", "ssl", "urllib", "urllib2", "urllib3", "http", "httplib", "ftplib", "smtplib",
    "telnetlib", "xmlrpc", "requests", "httpx", "aiohttp", "webbrowser", "antigravity",
    # loaders of other pickles or code
    "pickle", "_pickle", "cPickle", "marshal", "dill", "cloudpickle", "joblib", "yaml",
    "torch.hub", "torch.jit", "torch.package", "torch.serialization", "torch.utils.cpp_extension",
    "numpy.f2py", "numpy.distutils", "numpy.testing", "pandas.io.pickle",
    "sklearn.externals",  # vendored joblib and others in old scikit-learn
})  # fmt: skip

# Dangerous globals of modules that are otherwise unremarkable.
DENIED_NAMES = frozenset({
    ("builtins", name)
    for name in (
        "eval", "exec", "compile", "getattr", "setattr", "delattr", "__import__", "open",
        "breakpoint", "globals", "locals", "vars", "input", "help", "exit", "quit",
        "memoryview", "apply", "execfile", "file", "reload",
    )
} | {
    ("operator", "attrgetter"), ("operator", "methodcaller"), ("operator", "itemgetter"),
    ("functools", "partial"), ("functools", "partialmethod"), ("functools", "reduce"),
    ("types", "CodeType"), ("types", "FunctionType"), ("types", "MethodType"),
    ("types", "LambdaType"), ("types", "ModuleType"),
    ("torch", "load"), ("torch.storage", "_load_from_bytes"), ("numpy", "load"),
    ("pandas", "read_pickle"), ("numpy.lib.npyio", "load"),
})  # fmt: skip


@dataclass(frozen=True)
class Allowlist:
    """Globals of a family of libraries, allowed when a tenant opts in: `packages` are module
    prefixes whose classes (CamelCase names, and Cython's unpickle helpers for them) are
    allowed, `names` exact (module, name) pairs."""

    packages: frozenset[str]
    names: frozenset[tuple[str, str]]

    def allows(self, module: str, name: str) -> bool:
        if (module, name) in self.names:
            return True
        parts = module.split(".")
        in_package = any(".".join(parts[:i]) in self.packages for i in range(2, len(parts) + 1))
        return in_package and bool(_CLASS_NAME.fullmatch(name))


_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*|__pyx_unpickle_[A-Za-z0-9_]+")
_SKLEARN_PACKAGES = [
    "linear_model", "tree", "ensemble", "svm", "neighbors", "naive_bayes", "preprocessing",
    "pipeline", "compose", "decomposition", "cluster", "feature_extraction",
    "feature_selection", "impute", "discriminant_analysis", "gaussian_process", "isotonic",
    "kernel_approximation", "kernel_ridge", "mixture", "multiclass", "multioutput",
    "neural_network", "calibration", "cross_decomposition", "dummy", "manifold",
    "random_projection", "semi_supervised", "covariance", "_loss",
]  # fmt: skip
# Named allowlists a tenant may opt in to (Tenant.scan_pickle_allowlist). Denied modules and
# names stay denied: an allowlist only turns unknown globals into allowed ones.
NAMED_ALLOWLISTS = {
    "sklearn": Allowlist(
        packages=frozenset(f"sklearn.{package}" for package in _SKLEARN_PACKAGES),
        names=frozenset({
            ("sklearn.utils._bunch", "Bunch"),
            ("numpy.random._pickle", "__randomstate_ctor"),
            ("numpy.random._pickle", "__bit_generator_ctor"),
            ("numpy.random._pickle", "__generator_ctor"),
            ("numpy.random.mtrand", "RandomState"),
            ("numpy.random._mt19937", "MT19937"),
            ("scipy.sparse._csr", "csr_matrix"), ("scipy.sparse._csc", "csc_matrix"),
            ("scipy.sparse._coo", "coo_matrix"), ("scipy.sparse.csr", "csr_matrix"),
            ("xgboost.core", "Booster"), ("lightgbm.basic", "Booster"),
            *(("xgboost.sklearn", name) for name in (
                "XGBModel", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier",
                "XGBRFRegressor")),
            *(("lightgbm.sklearn", name) for name in (
                "LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")),
        }),
    ),
}  # fmt: skip


def normalise(module: str, name: str) -> tuple[str, str]:
    """Python 3 names for Python 2 ones (`__builtin__`, `copy_reg`), as the Unpickler maps them."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def judge(module: str, name: str, allowlist: str = "") -> Severity | None:
    """CRITICAL for a known-dangerous global, HIGH for an unknown one, None if allowed (by
    default, or by the named allowlist `allowlist` of NAMED_ALLOWLISTS)."""
    module, name = normalise(module, name)
    if name in ALLOWED.get(module, ()):  # exact names, allowed even in denied modules
        return None
    if module.split(".")[0] == TORCHSCRIPT_CLASSES and "__" not in name:
        return None
    parts = module.split(".")
    if any(".".join(parts[:i]) in DENIED_MODULES for i in range(1, len(parts) + 1)):
        return Severity.CRITICAL
    attribute_path = name.split(".")
    # Protocol 4 resolves dotted names attribute by attribute: `x.__globals__` and the like
    # walk from an innocent object to anything.
    if (module, attribute_path[0]) in DENIED_NAMES or any(
        part.startswith("__") for part in attribute_path[1:]
    ):
        return Severity.CRITICAL
    if allowlist and NAMED_ALLOWLISTS[allowlist].allows(module, name):
        return None
    return Severity.HIGH
