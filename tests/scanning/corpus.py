"""Malicious and benign samples for the scanner tests (and the benchmark), generated as bytes.

Nothing here is ever unpickled or loaded. Malicious pickles are written opcode by opcode, or
with pickle.dumps of an object whose __reduce__ *names* its target: pickling records the global
without calling it.
"""

import io
import json
import os
import pickle
import struct
import subprocess
import tarfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import h5py
import numpy as np
import onnx
import onnx.external_data_helper
import onnx.helper
import safetensors.numpy

from scanning.scanners import ScanLimits, ScanResult, scan_stream

STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED


# --- pickles ------------------------------------------------------------------------------


class _Reduce:
    """Pickles as a call of `target(*args)`; pickling it never runs the call."""

    def __init__(self, target: Callable[..., object], *args: object) -> None:
        self.target = target
        self.args = args

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return self.target, self.args


def reduce_pickle(target: Callable[..., object], *args: object, protocol: int) -> bytes:
    """What `pickle.dumps` makes of an object whose __reduce__ returns (target, args)."""
    return pickle.dumps(_Reduce(target, *args), protocol=protocol)


REDUCE_TARGETS = {
    "os.system": (os.system, ("echo pwned",)),
    "builtins.eval": (eval, ("__import__('os').system('echo pwned')",)),
    "builtins.exec": (exec, ("import os; os.system('echo pwned')",)),
    "subprocess.Popen": (subprocess.Popen, (["echo", "pwned"],)),
}


def _text(value: str, protocol: int) -> bytes:
    if protocol == 0:
        return b"V" + value.encode("raw_unicode_escape") + b"\n"
    encoded = value.encode()
    return b"X" + struct.pack("<I", len(encoded)) + encoded


def _global(module: str, name: str, protocol: int) -> bytes:
    if protocol >= 4:
        return _text(module, protocol) + _text(name, protocol) + b"\x93"
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call_pickle(module: str, name: str, *args: str, protocol: int = 2) -> bytes:
    """A hand-written pickle calling module.name(*args) with string arguments."""
    header = bytes([0x80, protocol]) if protocol >= 2 else b""
    arguments = b"(" + b"".join(_text(arg, protocol) for arg in args) + b"t"
    return header + _global(module, name, protocol) + arguments + b"R."


# Gadgets that scanners with short denylists miss.
LESSER_KNOWN_GADGETS = {
    "runpy._run_code": ("runpy", "_run_code", "import os; os.system('echo pwned')", "x"),
    "pip main": ("pip._internal", "main", "install", "evil-package"),
    "pydoc.pipepager": ("pydoc", "pipepager", "text", "sh -c 'echo pwned'"),
    "timeit.timeit": ("timeit", "timeit", "__import__('os').system('echo pwned')"),
    "importlib.import_module": ("importlib", "import_module", "evil_module"),
    "cProfile.run": ("cProfile", "run", "__import__('os').system('echo pwned')"),
}


def getattr_chain_pickle() -> bytes:
    """getattr(__import__('os'), 'system')('echo pwned'), with no os global in sight."""
    return (
        b"\x80\x02"
        + _global("builtins", "getattr", 2)
        + b"("
        + _global("builtins", "__import__", 2)
        + b"("
        + _text("os", 2)
        + b"tR"
        + _text("system", 2)
        + b"tR("
        + _text("echo pwned", 2)
        + b"tR."
    )


def memo_obfuscated_pickle() -> bytes:
    """STACK_GLOBAL whose strings come back from the memo, behind decoy strings: a scanner
    pairing STACK_GLOBAL with the last two string literals sees collections.OrderedDict."""
    short = lambda value: b"\x8c" + bytes([len(value)]) + value.encode()  # noqa: E731
    return (
        b"\x80\x04"
        + short("builtins") + b"\x94"  # memo 0
        + short("eval") + b"\x94"  # memo 1
        + b"00"  # POP both
        + short("collections") + short("OrderedDict") + b"00"  # decoys, popped
        + b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL -> builtins.eval
        + short("__import__('os').system('echo pwned')") + b"\x85R."
    )  # fmt: skip


def dynamic_global_pickle() -> bytes:
    """STACK_GLOBAL on a name computed at load time (the result of a call)."""
    return (
        b"\x80\x04"
        + _global("collections", "OrderedDict", 4)
        + b")R"  # a call result stands in for the module name
        + b"\x8c\x06system\x93)R."
    )


def extension_pickle() -> bytes:
    return b"\x80\x02\x82\x2a)R."  # EXT1 42, called


def stacked_pickles() -> bytes:
    """A harmless pickle, then a malicious one: loaders that call load() twice run both."""
    return pickle.dumps({"weights": [0.5, 1.5]}, protocol=2) + reduce_pickle(
        os.system, "echo pwned", protocol=2
    )


def truncated_pickle() -> bytes:
    return pickle.dumps({"weights": list(range(100))}, protocol=4)[:-7]


def benign_pickles() -> dict[str, bytes]:
    import datetime
    import decimal

    value = {
        "list": [1, 2.5, "three", None, True],
        "ordered": OrderedDict(a=1, b=2),
        "set": {1, 2},
        "frozenset": frozenset({3}),
        "when": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC),
        "delta": datetime.timedelta(days=1),
        "decimal": decimal.Decimal("1.25"),
        "complex": 1 + 2j,
        "bytes": b"\x00\x01",
        "slice": slice(1, 5),
    }
    samples = {f"plain data, protocol {p}": pickle.dumps(value, protocol=p) for p in range(6)}
    for protocol in (2, 4, 5):
        samples[f"numpy array, protocol {protocol}"] = pickle.dumps(np.arange(5.0), protocol)
    samples["numpy scalar"] = pickle.dumps(np.float64(1.5), protocol=4)
    return samples


# --- PyTorch checkpoints ------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    name: str
    key: str  # storage key: the tensor's bytes live in archive/data/<key>
    shape: tuple[int, ...]
    storage: str = "FloatStorage"


def torch_state_dict_pickle(tensors: list[Tensor]) -> bytes:
    """data.pkl as torch.save writes it for an OrderedDict of tensors (protocol 2), using only
    torch._utils._rebuild_tensor_v2, torch.*Storage and collections.OrderedDict."""

    def binint(value: int) -> bytes:
        return b"J" + struct.pack("<i", value)

    def int_tuple(values: tuple[int, ...]) -> bytes:
        return b"(" + b"".join(binint(v) for v in values) + b"t"

    body = bytearray(b"\x80\x02" + _global("collections", "OrderedDict", 2) + b")R(")
    for tensor in tensors:
        numel = int(np.prod(tensor.shape))
        strides = tuple(int(np.prod(tensor.shape[i + 1 :])) for i in range(len(tensor.shape)))
        body += _text(tensor.name, 2)
        body += _global("torch._utils", "_rebuild_tensor_v2", 2) + b"("
        # persistent id ('storage', storage type, key, location, numel) -> BINPERSID
        body += b"(" + _text("storage", 2) + _global("torch", tensor.storage, 2)
        body += _text(tensor.key, 2) + _text("cpu", 2) + binint(numel) + b"tQ"
        body += binint(0) + int_tuple(tensor.shape) + int_tuple(strides) + b"\x89"
        body += _global("collections", "OrderedDict", 2) + b")R"
        body += b"tR"
    body += b"u."
    return bytes(body)


def torch_checkpoint(
    data_pkl: bytes,
    tensor_data: dict[str, bytes],
    *,
    tamper: Callable[[list], None] | None = None,
    zip64: bool = False,
) -> bytes:
    """A zip laid out like torch.save's: archive/data.pkl, archive/data/<key>, version..."""
    members = [
        Member("archive/data.pkl", data_pkl),
        Member("archive/byteorder", b"little"),
        *(Member(f"archive/data/{key}", data) for key, data in tensor_data.items()),
        Member("archive/version", b"3\n"),
        Member("archive/.data/serialization_id", b"1234567890123456789012345678901234567890"),
    ]
    if tamper:
        tamper(members)
    return build_zip(members, zip64=zip64)


def benign_checkpoint(tensor_bytes: int = 4 * 6) -> bytes:
    """A small but complete state dict: weight (2x3 floats, or larger) and bias."""
    columns = max(1, tensor_bytes // 8)
    weight = np.arange(2 * columns, dtype=np.float32)
    tensors = [Tensor("linear.weight", "0", (2, columns)), Tensor("linear.bias", "1", (2,))]
    data = {"0": weight.tobytes(), "1": np.ones(2, np.float32).tobytes()}
    return torch_checkpoint(torch_state_dict_pickle(tensors), data)


def malicious_checkpoint(
    tamper: Callable[[list], None] | None = None, *, zip64: bool = False
) -> bytes:
    return torch_checkpoint(
        reduce_pickle(os.system, "echo pwned", protocol=2),
        {"0": np.zeros(6, np.float32).tobytes()},
        tamper=tamper,
        zip64=zip64,
    )


# --- zips, built by hand so that every header field can be forged -------------------------


@dataclass
class Member:
    name: str
    data: bytes
    method: int = STORED
    local_name: str | None = None  # a local header name differing from the central one
    flags: int = 0
    crc: int | None = None  # a forged CRC-32
    declared_size: int | None = None  # a forged uncompressed size
    unix_mode: int | None = None  # external attributes, made on Unix


def build_zip(
    members: list[Member], *, prefix: bytes = b"", zip64: bool = False, zip64_end: bool = False
) -> bytes:
    """A zip whose every field can be forged. `zip64` stores sizes and offsets the way
    archives over 4 GiB must (PyTorch writes them for big checkpoints); `zip64_end` only adds
    the zip64 end records, as zipfile does from 2 GiB on."""
    out = io.BytesIO()
    out.write(prefix)
    central = io.BytesIO()
    saturated = 0xFFFFFFFF
    for member in members:
        if member.method == DEFLATED:
            compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            payload = compressor.compress(member.data) + compressor.flush()
        else:
            payload = member.data
        crc = zlib.crc32(member.data) if member.crc is None else member.crc
        size = len(member.data) if member.declared_size is None else member.declared_size
        name = member.name.encode()
        local_name = (member.local_name or member.name).encode()
        offset = out.tell() - len(prefix)
        sizes = (saturated, saturated) if zip64 else (len(payload), size)
        fields = (45, member.flags | 0x0800, member.method, 0, 0x21, crc, *sizes)
        local_extra = struct.pack("<2H2Q", 1, 16, size, len(payload)) if zip64 else b""
        local = struct.pack("<5H3L2H", *fields, len(local_name), len(local_extra))
        out.write(b"PK\x03\x04" + local)
        out.write(local_name + local_extra + payload)
        extra = struct.pack("<2H3Q", 1, 24, size, len(payload), offset) if zip64 else b""
        attributes = (member.unix_mode or 0) << 16
        system = 3 if member.unix_mode is not None else 0
        central_offset = saturated if zip64 else offset
        header = (system << 8 | 45, *fields, len(name), len(extra), 0, 0, 0, attributes)
        central.write(b"PK\x01\x02" + struct.pack("<6H3L5HLL", *header, central_offset))
        central.write(name + extra)
    directory = central.getvalue()
    start = out.tell() - len(prefix)
    out.write(directory)
    count = len(members)
    if zip64 or zip64_end:
        record = out.tell() - len(prefix)
        record_fields = (44, 45, 45, 0, 0, count, count, len(directory), start)
        out.write(b"PK\x06\x06" + struct.pack("<Q2H2L4Q", *record_fields))
        out.write(b"PK\x06\x07" + struct.pack("<LQL", 0, record, 1))
    if zip64:
        count, start = 0xFFFF, saturated
    out.write(b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, count, count, len(directory), start, 0))
    return out.getvalue()


def zip_bomb(zeros: int = 50 * 2**20) -> bytes:
    """50 MB of zeros deflated to about 50 KB: a ratio near 1000:1."""
    return build_zip([Member("weights.bin", bytes(zeros), method=DEFLATED)])


def forged_size_zip() -> bytes:
    """A tiny deflated member that claims to inflate to 4 GiB."""
    return build_zip([Member("weights.bin", bytes(1000), method=DEFLATED, declared_size=2**32 - 1)])


def nested_zip(depth: int, inner: bytes) -> bytes:
    for level in range(depth):
        inner = build_zip([Member(f"level{level}.zip", inner)])
    return inner


# --- NumPy, safetensors, HDF5/Keras, ONNX --------------------------------------------------


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz(compressed: bool = False, **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, allow_pickle=True, **arrays)
    return buffer.getvalue()


def object_array() -> np.ndarray:
    return np.array([1, "two", None], dtype=object)


def malicious_object_array() -> np.ndarray:
    return np.array([1, _Reduce(os.system, "echo pwned")], dtype=object)


def safetensors_file() -> bytes:
    return safetensors.numpy.save(
        {"weight": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float16)},
        metadata={"format": "np"},
    )


def safetensors_with_header(header: dict[str, object], data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _layer(class_name: str, name: str, **config: object) -> dict[str, object]:
    return {"class_name": class_name, "config": {"name": name, **config}}


def keras_config(with_lambda: bool) -> dict[str, object]:
    layers = [
        _layer("InputLayer", "input", batch_input_shape=[None, 4]),
        _layer("Dense", "dense", units=3, activation="relu"),
    ]
    if with_lambda:
        # What Keras writes for Lambda(lambda x: ...): marshalled bytecode, base64-encoded.
        layers.append(
            _layer(
                "Lambda",
                "evil",
                function=["4wEAAAAAAAAAAAAAAAEAAAAD", None, None],
                function_type="lambda",
            )
        )
    # Nested like a real functional model: the layers sit inside the model's config.
    return {"class_name": "Functional", "config": {"name": "model", "layers": layers}}


def keras_h5(with_lambda: bool) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.attrs["keras_version"] = "2.15.0"
        file.attrs["backend"] = "tensorflow"
        file.attrs["model_config"] = json.dumps(keras_config(with_lambda))
        weights = file.create_group("model_weights").create_group("dense")
        weights.create_dataset("kernel:0", data=np.ones((4, 3), np.float32))
    return buffer.getvalue()


def keras_v3(with_lambda: bool, compression: int = STORED) -> bytes:
    weights = io.BytesIO()
    with h5py.File(weights, "w") as file:
        file.create_group("layers").create_dataset("vars/0", data=np.ones(3, np.float32))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        archive.writestr("config.json", json.dumps(keras_config(with_lambda)))
        archive.writestr("model.weights.h5", weights.getvalue())
    return buffer.getvalue()


def onnx_model(external_location: str | None = None) -> bytes:
    """An Add graph with one initializer, optionally stored as external data at a location."""
    values = np.array([1.0, 2.0, 3.0], np.float32).tobytes()
    weight = onnx.helper.make_tensor("weight", onnx.TensorProto.FLOAT, [3], values, raw=True)
    if external_location is not None:
        onnx.external_data_helper.set_external_data(weight, location=external_location)
        weight.ClearField("raw_data")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Add", ["x", "weight"], ["y"])],
        "add",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [3])],
        initializer=[weight],
    )
    return onnx.helper.make_model(graph, producer_name="tests").SerializeToString()


# --- tars ---------------------------------------------------------------------------------


def build_tar(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def symlink_escape_tar() -> bytes:
    """A symlink to /etc, then a member written through it."""
    return build_tar([symlink("config", "/etc"), ("config/cron.d/evil", b"* * * * * root id\n")])


# --- other content ------------------------------------------------------------------------

PNG_HEADER = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(17)
TEXT = b"A model card.\n\nThis model was trained on public data; use it responsibly.\n"


# --- scanning helpers ---------------------------------------------------------------------


def scan_bytes(data: bytes, name: str = "", limits: ScanLimits | None = None) -> ScanResult:
    return scan_stream(io.BytesIO(data), name=name, limits=limits or ScanLimits())


def codes(result: ScanResult) -> set[str]:
    return {finding.code for finding in result.findings}


def worst_codes(result: ScanResult) -> set[str]:
    """The codes of findings above INFO."""
    return {finding.code for finding in result.findings if finding.severity != "info"}


class CountingReader(io.RawIOBase):
    """A read-and-seek-only stream without a file descriptor (like a storage file on S3) that
    counts the bytes it hands out."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._position = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}
        self._position = base[whence] + offset
        return self._position

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
        chunk = self._data[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        self.bytes_read += len(chunk)
        return len(chunk)


def scan_counting(stream: CountingReader, name: str = "") -> ScanResult:
    return scan_stream(stream, name=name)  # type: ignore[arg-type]


# --- Keras 3 configs, as keras.saving writes them ------------------------------------------


def keras3_object(module: str, class_name: str, config: object, **extra: object) -> dict:
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None, **extra}


def keras3_dense_config(*extra_layers: dict) -> dict[str, object]:
    """A Sequential of InputLayer and Dense as Keras 3.8 serializes it."""
    initializer = keras3_object("keras.initializers", "GlorotUniform", {"seed": None})
    dtype = keras3_object("keras", "DTypePolicy", {"name": "float32"})
    dense = keras3_object("keras.layers", "Dense", {
        "name": "dense", "trainable": True, "dtype": dtype, "units": 3, "activation": "relu",
        "use_bias": True, "kernel_initializer": initializer,
        "bias_initializer": keras3_object("keras.initializers", "Zeros", {}),
        "kernel_regularizer": None,
    }, build_config={"input_shape": [None, 4]})
    layers = [
        keras3_object("keras.layers", "InputLayer", {
            "batch_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "input"}),
        dense, *extra_layers,
    ]
    compile_config = {
        "optimizer": keras3_object("keras.optimizers", "Adam", {"learning_rate": 0.001}),
        "loss": keras3_object("keras.losses", "function", "mean_squared_error",
                              registered_name="mean_squared_error"),
    }
    return keras3_object("keras", "Sequential", {"name": "sequential", "layers": layers},
                         build_config={"input_shape": [None, 4]}, compile_config=compile_config)


def keras3_archive(config: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.8.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
    return buffer.getvalue()


# --- GGUF ----------------------------------------------------------------------------------

# The shape of the Llama 3 / Qwen templates: loops, conditions, namespace(), raise_exception().
CLEAN_CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='') -%}{{ bos_token }}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] -%}"
    "{%- elif message.role not in ['user', 'assistant'] -%}"
    "{{ raise_exception('Conversation roles must be user or assistant') }}"
    "{%- else -%}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{%- endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>{% endif %}"
    "{# a comment about __init__ and self.x is no code #}"
)


def _gguf_string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("<Q", len(data)) + data


def gguf(metadata: list[tuple[str, int, bytes]], version: int = 3) -> bytes:
    """A GGUF file of (key, value type, encoded value) pairs, one tensor info, no data."""
    out = io.BytesIO()
    out.write(b"GGUF" + struct.pack("<IQQ", version, 1, len(metadata)))
    for key, value_type, value in metadata:
        out.write(_gguf_string(key) + struct.pack("<I", value_type) + value)
    out.write(_gguf_string("token_embd.weight") + struct.pack("<IQQIQ", 1, 4, 4, 0, 0))
    out.write(bytes(32))
    return out.getvalue()


def gguf_model(chat_template: str) -> bytes:
    """Typical llama.cpp metadata: architecture, numbers, a vocabulary array, a template."""
    tokens = [b"<s>", b"</s>", b"hello", b"world"]
    vocabulary = struct.pack("<IQ", 8, len(tokens)) + b"".join(map(_gguf_string, tokens))
    return gguf([
        ("general.architecture", 8, _gguf_string("llama")),
        ("llama.context_length", 4, struct.pack("<I", 4096)),
        ("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
        ("tokenizer.ggml.tokens", 9, vocabulary),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ4f", 6, 4, 0, 0, 0, 0)),
        ("tokenizer.chat_template", 8, _gguf_string(chat_template)),
    ])  # fmt: skip


# --- joblib and dill -----------------------------------------------------------------------


def _binunicode(value: str) -> bytes:
    encoded = value.encode()
    return b"X" + struct.pack("<I", len(encoded)) + encoded


def joblib_array_wrapper(descr: str, shape: tuple[int, ...], aligned: bool = True) -> bytes:
    """The opcodes joblib's NumpyPickler writes for a NumpyArrayWrapper (protocol 2)."""
    dtype = (b"cnumpy\ndtype\n" + _binunicode(descr) + b"\x89\x88\x87R"
             + b"(K\x03" + _binunicode("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    shape_ops = b"(" + b"".join(b"J" + struct.pack("<i", n) for n in shape) + b"t"
    state = (b"}(" + _binunicode("subclass") + b"cnumpy\nndarray\n"
             + _binunicode("shape") + shape_ops + _binunicode("order") + _binunicode("C")
             + _binunicode("dtype") + dtype + _binunicode("allow_mmap") + b"\x88"
             + _binunicode("numpy_array_alignment_bytes") + (b"K\x10" if aligned else b"N")
             + b"u")
    return b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81" + state + b"b"


def joblib_file(arrays: dict[str, np.ndarray], *, aligned: bool = True,
                after: bytes = b"") -> bytes:
    """What joblib.dump writes for a dict of arrays: each wrapper followed by the raw bytes
    (after a padding to 16 bytes), then `after` (more opcodes) before the final STOP."""
    out = io.BytesIO()
    out.write(b"\x80\x02}(")
    for key, array in arrays.items():
        out.write(_binunicode(key))
        if array.dtype.hasobject:
            out.write(joblib_array_wrapper("O8", array.shape, aligned))
            out.write(pickle.dumps(array, protocol=2))
            continue
        out.write(joblib_array_wrapper(array.dtype.str[1:], array.shape, aligned))
        if aligned:
            padding = 16 - (out.tell() + 1) % 16
            out.write(bytes([padding]) + b"\xff" * padding)
        out.write(array.tobytes())
    out.write(b"u" + after + b".")
    return out.getvalue()


def onnx_with_nodes(nodes: list[tuple[str, str]], functions: list[tuple[str, str]] = ()) -> bytes:
    """A graph of (domain, op_type) nodes chained x -> y, with model-local functions."""
    graph_nodes = [
        onnx.helper.make_node(op_type, [f"t{n}"], [f"t{n + 1}"], domain=domain)
        for n, (domain, op_type) in enumerate(nodes)
    ]
    graph = onnx.helper.make_graph(
        graph_nodes, "g",
        [onnx.helper.make_tensor_value_info("t0", onnx.TensorProto.FLOAT, [3])],
        [onnx.helper.make_tensor_value_info(f"t{len(nodes)}", onnx.TensorProto.FLOAT, [3])],
    )
    local = [
        onnx.helper.make_function(domain, name, ["a"], ["b"],
                                  [onnx.helper.make_node("Relu", ["a"], ["b"])],
                                  [onnx.helper.make_opsetid("", 18)])
        for domain, name in functions
    ]
    return onnx.helper.make_model(graph, functions=local).SerializeToString()


# --- TorchScript ----------------------------------------------------------------------------

TORCHSCRIPT_CODE = """class Net(Module):
  __parameters__ = ["weight", ]
  __buffers__ = []
  weight : Tensor
  training : bool
  def forward(self: __torch__.Net,
    x: Tensor) -> Tensor:
    _0 = torch.add(torch.matmul(x, self.weight), CONSTANTS.c0)
    return torch.relu(_0)
"""


def torchscript_archive(code: str = TORCHSCRIPT_CODE, constants: bytes | None = None) -> bytes:
    """A torch.jit.save archive: code/, data.pkl of a __torch__ object, constants.pkl."""
    tensor = [Tensor("c0", "0", (3,))]
    data_pkl = (b"\x80\x02" + _global("__torch__", "Net", 2) + b")\x81}(" + _text("training", 2)
                + b"\x88" + _text("weight", 2) + torch_state_dict_pickle(tensor)[2:-2]
                + b"ub.")
    if constants is None:
        constants = torch_state_dict_pickle(tensor)
    return build_zip([
        Member("archive/data.pkl", data_pkl),
        Member("archive/code/__torch__.py", code.encode(), method=DEFLATED),
        Member("archive/code/__torch__.py.debug_pkl", pickle.dumps((0, "Net", 12), protocol=2)),
        Member("archive/constants.pkl", constants),
        Member("archive/data/0", np.ones(3, np.float32).tobytes()),
        Member("archive/version", b"2\n"),
    ])  # fmt: skip


# --- TensorFlow SavedModel, written field by field ------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _node(name: str, op: str) -> bytes:
    return _field(1, name.encode()) + _field(2, op.encode()) + _field(4, b"/device:CPU:0")


def saved_model(graph_ops: list[str], function_ops: list[str] = ()) -> bytes:
    """saved_model.pb with one meta graph: graph nodes, and one function of more nodes."""
    save_ops = ["Const", "SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename"]
    nodes = b"".join(_field(1, _node(f"n{i}", op)) for i, op in enumerate(save_ops + graph_ops))
    function = _field(1, _field(1, b"__inference_serve_12")) + b"".join(
        _field(3, _node(f"f{i}", op)) for i, op in enumerate(["Identity", *function_ops])
    )
    graph = nodes + _field(2, _field(1, function)) + _field(4, b"\x08\x01")  # versions
    meta_graph = _field(1, _field(4, b"serve")) + _field(2, graph)
    return b"\x08\x01" + _field(2, meta_graph)


def sklearn_model_pickle() -> bytes:
    """A LogisticRegression pickled as pickle.dumps writes it (protocol 4), coef_ as ndarray."""
    state = (b"}(" + _text("C", 4) + b"G?\xf0\x00\x00\x00\x00\x00\x00" + _text("coef_", 4)
             + pickle.dumps(np.zeros(3), protocol=4)[2:-1] + b"u")
    return (b"\x80\x04" + _global("sklearn.linear_model._logistic", "LogisticRegression", 4)
            + b")\x81" + state + b"b.")
