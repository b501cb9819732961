"""The scanner blind spots of issue 21, one class at a time, each with a benign look-alike
that must stay CLEAN."""

import io
import json
import os
import pickle
import random
import struct
import zlib

import numpy as np
import pytest

from scanning.scanners import Verdict
from tests.scanning import corpus
from tests.scanning.corpus import codes, scan_bytes, worst_codes

# --- 1. findings made before a parse error decide the verdict ------------------------------


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize(
    "damage",
    [b"", b"\xff\xfe broken", b"\x80\x09", b"(" * 10],
    ids=["truncated", "garbage", "bad protocol", "open marks"],
)
def test_a_payload_followed_by_a_broken_stream_is_flagged(protocol, damage):
    data = corpus.call_pickle("os", "system", "id", protocol=protocol)[:-1] + damage

    result = scan_bytes(data, name="model.pkl")

    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"pickle.dangerous_global", "pickle.parse_error"}


def test_a_payload_in_a_first_pickle_then_a_broken_second_is_flagged():
    data = corpus.call_pickle("os", "system", "id") + b"\x80\x04\x95garbage"

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    # Bytes after a complete pickle that import nothing can never run: noted, not fatal.
    assert codes(result) == {"pickle.dangerous_global", "pickle.trailing_data"}


def test_a_broken_stream_of_plain_data_stays_an_error():
    result = scan_bytes(b"\x80\x04\x95garbage")

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"pickle.parse_error"}


# --- 2. malformed safetensors are errors ---------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<Q", 2**62) + b'{"w": 1}' + bytes(64),
        struct.pack("<Q", 0xFFFFFFFFFFFFFFFF) + b"{}",
        struct.pack("<Q", 12) + b"{not json!!}",
        struct.pack("<Q", 10) + b'{"\xff\xfe": 1}',
        corpus.safetensors_with_header(
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)
        ),
    ],
    ids=["absurd length", "maximal length", "not json", "not utf-8", "offsets past the end"],
)
def test_malformed_safetensors_are_errors(data):
    result = scan_bytes(data, name="model.safetensors")

    assert (result.scanner, result.verdict) == ("safetensors", Verdict.ERROR)
    assert codes(result) == {"safetensors.invalid_header"}


def test_text_that_looks_like_a_length_and_a_brace_is_not_safetensors():
    result = scan_bytes(b'var x = {"a": 1};\n')

    assert (result.scanner, result.verdict) == ("unknown", Verdict.CLEAN)


# --- 4. Keras 3 configs: every module and class on an allowlist ----------------------------


def test_a_keras_dense_model_is_clean():
    result = scan_bytes(corpus.keras3_archive(corpus.keras3_dense_config()), name="m.keras")

    assert (result.detected_format, result.verdict) == ("keras", Verdict.CLEAN)
    assert worst_codes(result) == set()


KERAS_BYPASSES = {
    # CVE-2025-1550: any module, imported whatever safe_mode says.
    "os module": (corpus.keras3_object("os", "system", "id"), "keras.dangerous_module"),
    "torch wrapper": (
        corpus.keras3_object("torch.nn.modules.linear", "Linear", {}), "keras.external_module"),
    "custom registered": (
        corpus.keras3_object("keras.layers", "Dense", {}, registered_name="evil>Payload"),
        "keras.external_module",
    ),
    # Keras' own utilities reach the network and files (keras.utils.get_file).
    "keras utils": (
        corpus.keras3_object("keras.utils", "get_file", {"origin": "http://x"}),
        "keras.external_module",
    ),
    "keras.src function to os": (
        corpus.keras3_object("keras.src.activations", "function", "os.system"),
        "keras.external_module",
    ),
    "function from builtins": (
        corpus.keras3_object("builtins", "function", "exec"), "keras.dangerous_module"),
    "lambda": (
        corpus.keras3_object(
            "keras.layers", "Lambda", {"function": {"class_name": "__lambda__", "config": {}}}
        ),
        "keras.lambda_layer",
    ),
    "TFSMLayer": (
        corpus.keras3_object("keras.layers", "TFSMLayer", {"filepath": "/tmp/evil"}),
        "keras.loader_layer",
    ),
}


@pytest.mark.parametrize("bypass", sorted(KERAS_BYPASSES))
def test_keras_objects_outside_the_allowlist_are_flagged(bypass):
    layer, code = KERAS_BYPASSES[bypass]

    result = scan_bytes(corpus.keras3_archive(corpus.keras3_dense_config(layer)))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {code}
    assert {f.location for f in result.findings} == {"config.json"}


def test_a_keras_activation_function_reference_is_clean():
    activation = corpus.keras3_object("keras.activations", "function", "gelu")
    layer = corpus.keras3_object("keras.layers", "Dense", {"units": 1, "activation": activation})

    result = scan_bytes(corpus.keras3_archive(corpus.keras3_dense_config(layer)))

    assert result.verdict == Verdict.CLEAN


# --- 6. GGUF chat templates -----------------------------------------------------------------


def test_a_gguf_model_with_a_clean_chat_template_is_clean():
    result = scan_bytes(corpus.gguf_model(corpus.CLEAN_CHAT_TEMPLATE), name="model.gguf")

    assert (result.scanner, result.detected_format, result.verdict) == (
        "gguf", "gguf", Verdict.CLEAN)
    assert result.findings == []


SSTI_TEMPLATES = [
    "{{ ().__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% for m in messages %}{{ m['__class__'] }}{% endfor %}",
    "{{ lipsum['__glo' ~ 'bals__'] }}",
    "{{ self._TemplateReference__context }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ joiner.x }}{{ namespace.__init__.__globals__['__builtins__']['__import__']('os') }}",
]


@pytest.mark.parametrize("template", SSTI_TEMPLATES)
def test_gguf_chat_templates_walking_to_python_are_flagged(template):
    result = scan_bytes(corpus.gguf_model(corpus.CLEAN_CHAT_TEMPLATE + template))

    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"template.injection"}
    assert {f.location for f in result.findings} == {"<stream>:tokenizer.chat_template"}


def test_a_named_gguf_chat_template_is_checked_too():
    data = corpus.gguf([("tokenizer.chat_template.tool_use", 8,
                         corpus._gguf_string("{{ x.__class__ }}"))])

    assert codes(scan_bytes(data)) == {"template.injection"}


@pytest.mark.parametrize(
    "data",
    [
        b"GGUF" + struct.pack("<IQQ", 9, 0, 0),
        b"GGUF" + struct.pack("<IQQ", 3, 0, 2**40),
        corpus.gguf([("k", 8, struct.pack("<Q", 2**62))]),
        corpus.gguf([("k", 77, b"")]),
        corpus.gguf_model(corpus.CLEAN_CHAT_TEMPLATE)[:120],
    ],
    ids=["version", "absurd count", "absurd string", "unknown type", "truncated"],
)
def test_malformed_gguf_metadata_is_an_error(data):
    result = scan_bytes(data)

    assert (result.scanner, result.verdict) == ("gguf", Verdict.ERROR)
    assert codes(result) == {"gguf.invalid_metadata"}


def test_a_tokenizer_config_template_is_checked():
    clean = json.dumps({"bos_token": "<s>", "chat_template": corpus.CLEAN_CHAT_TEMPLATE})
    evil = json.dumps({"chat_template": [{"name": "default", "template": SSTI_TEMPLATES[1]}]})

    assert scan_bytes(clean.encode()).verdict == Verdict.CLEAN
    assert codes(scan_bytes(evil.encode(), name="tokenizer_config.json")) == {
        "template.injection"}


# --- 3. pickles that do not start at byte 0 ------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize(
    "lead",
    [b"\x00\xffjunk" * 100, PNG, b"\xff\xd8\xff" + bytes(3000), b"GIF89a" + bytes(2**20),
     b"\x00" * (2**20 - 4095)],
    ids=["junk", "png", "jpeg", "gif past a chunk", "across a chunk's end"],
)
def test_a_pickle_behind_other_bytes_is_found(lead, protocol):
    data = lead + corpus.reduce_pickle(os.system, "id", protocol=protocol) + b"tail"

    result = scan_bytes(data, name="cat.png")

    assert result.verdict == Verdict.FLAGGED
    assert {"pickle.dangerous_global", "pickle.embedded"} <= codes(result)
    assert f"cat.png@offset {len(lead)}" in {f.location for f in result.findings}


def test_a_pickle_behind_text_is_found_by_its_protocol_header():
    data = corpus.TEXT + corpus.reduce_pickle(os.system, "id", protocol=2)

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert "pickle.dangerous_global" in codes(result)


def test_a_pickle_hidden_in_a_zip_member_of_no_known_format():
    member = corpus.Member("assets/blob.bin", PNG + corpus.call_pickle("os", "system", "id"),
                           method=corpus.DEFLATED)

    result = scan_bytes(corpus.build_zip([member]))

    assert result.verdict == Verdict.FLAGGED
    assert "pickle.dangerous_global" in codes(result)


def test_a_protocol_0_payload_padded_past_the_window_is_found():
    data = PNG + b"cos\nsystem\n(S'" + b"a" * 10_000 + b"'\ntR."

    assert worst_codes(scan_bytes(data)) == {"pickle.dangerous_global", "pickle.embedded"}


def test_an_embedded_pickle_broken_after_an_import_is_not_clean():
    data = PNG + corpus.call_pickle("collections", "OrderedDict")[:-3] + b"\xff" * 8

    result = scan_bytes(data)

    assert result.verdict == Verdict.ERROR
    assert codes(result) >= {"pickle.parse_error", "pickle.embedded"}


@pytest.mark.parametrize(
    "data",
    [
        PNG,
        bytes(range(256)) * 4096 + b"\x80\x02\x80\x03\x80\x04\x95" * 1000,
        # text holding what protocol 0 lines look like, without a call
        b"\x00\x01" + b"cat\ndog\n" * 1000,
        corpus.TEXT * 50,
    ],
    ids=["png", "binary with headers", "binary with word lines", "text"],
)
def test_look_alikes_of_embedded_pickles_stay_clean(data):
    result = scan_bytes(data)

    assert (result.scanner, result.verdict) == ("unknown", Verdict.CLEAN)
    assert worst_codes(result) == set()


# --- 5. compressed pickles: 7z and other formats, compressed zip members ------------------

SEVEN_ZIP = b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24) + b"compressed bytes"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (SEVEN_ZIP, "7z"),
        (b"\x28\xb5\x2f\xfd" + bytes(16), "zstd"),
        (b"\x04\x22\x4d\x18" + bytes(16), "lz4"),
        (b"Rar!\x1a\x07\x01\x00" + bytes(16), "rar"),
    ],
)
def test_archives_the_scanner_cannot_open_are_errors(data, name):
    result = scan_bytes(data, name="model.pt")

    assert (result.detected_format, result.verdict) == (name, Verdict.ERROR)
    assert codes(result) == {"archive.unsupported_format"}


def test_a_7z_member_of_a_pytorch_zip_is_an_error():
    members = [corpus.Member("archive/data.pkl", corpus.torch_state_dict_pickle([])),
               corpus.Member("archive/extra", SEVEN_ZIP)]

    result = scan_bytes(corpus.build_zip(members))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"archive.unsupported_format"}


@pytest.mark.parametrize("method", [14, 93, 95], ids=["lzma", "zstd", "xz"])
def test_pytorch_members_compressed_with_other_methods_are_errors(method):
    payload = corpus.Member("archive/data.pkl", corpus.call_pickle("os", "system"), method=method)

    result = scan_bytes(corpus.build_zip([payload]))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"zip.unsupported_compression"}


@pytest.mark.parametrize("level", [1, 3, 9])
def test_a_zlib_compressed_pickle_is_inflated_and_scanned(level):
    data = zlib.compress(corpus.call_pickle("os", "system", "id"), level)

    result = scan_bytes(data, name="model.joblib")

    assert (result.detected_format, result.verdict) == ("zlib", Verdict.FLAGGED)
    assert worst_codes(result) == {"pickle.dangerous_global"}


def test_zlib_compressed_plain_data_and_text_starting_like_zlib_are_clean():
    assert scan_bytes(zlib.compress(pickle.dumps({"a": [1.0, 2.0]}), 3)).verdict == Verdict.CLEAN
    text = scan_bytes(b"x^2 + y^2 = r^2, the circle\n")
    assert (text.detected_format, text.verdict) == ("text", Verdict.CLEAN)


# --- 8. joblib and dill ---------------------------------------------------------------------


@pytest.mark.parametrize("aligned", [True, False])
def test_a_numpy_only_joblib_file_is_clean(aligned):
    arrays = {"coef": np.arange(12, dtype=np.float64).reshape(3, 4),
              "labels": np.array(["cat", "dog"]), "mask": np.ones(5, bool),
              "bytes": np.frombuffer(b"\x80\x02cnumpy\nndarray\n." * 3, np.uint8)}

    for data in (corpus.joblib_file(arrays, aligned=aligned),
                 zlib.compress(corpus.joblib_file(arrays, aligned=aligned), 3)):
        result = scan_bytes(data, name="model.joblib")
        assert result.verdict == Verdict.CLEAN, result.findings
        assert worst_codes(result) == set()


def test_a_joblib_file_with_a_payload_after_its_arrays_is_flagged():
    arrays = {"coef": np.zeros(100, np.float32)}
    data = corpus.joblib_file(arrays, after=b"cos\nsystem\n(S'id'\ntR0")

    result = scan_bytes(data, name="model.joblib")

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}


def test_a_joblib_object_array_is_read_as_the_nested_pickle_it_is():
    evil = np.array([corpus._Reduce(os.system, "id")], dtype=object)

    result = scan_bytes(corpus.joblib_file({"x": evil, "y": np.zeros(3)}))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}


def test_joblib_array_bytes_that_are_opcodes_for_pickle_load_are_flagged():
    # joblib skips them; pickle.load of the same file runs them.
    raw = np.frombuffer(b"cposix\nsystem\n(S'id'\ntR0" + bytes(7), np.uint8)

    result = scan_bytes(corpus.joblib_file({"x": raw}, aligned=False))

    assert result.verdict == Verdict.FLAGGED
    # pickle.load would run the call, then stop at the zero bytes after it
    assert worst_codes(result) == {"pickle.dangerous_global", "pickle.parse_error"}


def test_a_joblib_array_whose_size_cannot_be_known_is_an_error():
    data = corpus.joblib_file({"x": np.zeros(2)}).replace(b"f8", b"zz")

    result = scan_bytes(data)

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"pickle.parse_error"}


def test_dill_pickles_of_plain_data_are_clean_and_of_functions_flagged():
    # dill writes plain data as pickle does; code as dill._dill helpers, which build functions.
    plain = pickle.dumps({"weights": [0.5, 1.5], "name": "model"}, protocol=4)
    function = corpus.call_pickle("dill._dill", "_create_function", "code", protocol=4)

    assert scan_bytes(plain, name="model.dill").verdict == Verdict.CLEAN
    result = scan_bytes(function, name="model.dill")
    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}


# --- 9. ONNX custom operators ---------------------------------------------------------------


def test_onnx_standard_contrib_and_local_function_operators_are_clean():
    data = corpus.onnx_with_nodes(
        [("", "Relu"), ("ai.onnx.ml", "Normalizer"), ("com.microsoft", "FusedGemm"),
         ("my.functions", "Block")],
        functions=[("my.functions", "Block")],
    )

    result = scan_bytes(data, name="model.onnx")

    assert (result.scanner, result.verdict, result.findings) == ("onnx", Verdict.CLEAN, [])


def test_an_onnx_custom_domain_operator_is_flagged():
    data = corpus.onnx_with_nodes([("", "Relu"), ("evil.ops", "Exec"), ("evil.ops", "Exec")])

    result = scan_bytes(data, name="model.onnx")

    assert result.verdict == Verdict.FLAGGED
    assert [(f.severity, f.code, f.message) for f in result.findings] == [
        ("medium", "onnx.custom_operator", "operator 'Exec' of the custom domain 'evil.ops' runs "
         "code from a native library outside the model"),
    ]


# --- 5. TorchScript -------------------------------------------------------------------------


def test_a_clean_torchscript_archive_is_clean():
    result = scan_bytes(corpus.torchscript_archive(), name="model.pt")

    assert (result.scanner, result.detected_format, result.verdict) == (
        "pytorch", "torchscript", Verdict.CLEAN)
    assert worst_codes(result) == set()


def test_a_torchscript_constants_pickle_with_a_payload_is_flagged():
    data = corpus.torchscript_archive(constants=corpus.call_pickle("os", "system", "id"))

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}
    assert {f.location.split("@")[0] for f in result.findings} == {"archive/constants.pkl"}


@pytest.mark.parametrize(
    "line",
    [
        "torch.save(x, '/etc/cron.d/x')",
        "_1 = ops.aten.from_file('/etc/passwd', True, 100)",
        "_2 = torch.ops.evil_ns.run_shell(x)",
        "_3 = torch.load('/tmp/other.pt')",
    ],
)
def test_torchscript_code_reaching_files_or_native_operators_is_flagged(line):
    code = corpus.TORCHSCRIPT_CODE.replace("    return torch.relu(_0)", f"    {line}\n"
                                           "    return torch.relu(_0)")

    result = scan_bytes(corpus.torchscript_archive(code))

    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"torchscript.dangerous_code"}
    assert {f.location for f in result.findings} == {"archive/code/__torch__.py"}


def test_torchscript_pickle_globals_are_allowed_only_as_torchscript_classes():
    assert scan_bytes(corpus.call_pickle("__torch__.models", "Net")).verdict == Verdict.CLEAN
    dunder = scan_bytes(corpus.call_pickle("__torch__", "Net.__init__.__globals__", protocol=4))
    assert dunder.verdict == Verdict.FLAGGED


# --- 7. TensorFlow SavedModel ---------------------------------------------------------------


def test_a_saved_model_of_ordinary_ops_is_clean():
    data = corpus.saved_model(["Placeholder", "MatMul", "Relu"], ["StatefulPartitionedCall"])

    result = scan_bytes(data, name="saved_model.pb")

    assert (result.scanner, result.verdict, result.findings) == (
        "savedmodel", Verdict.CLEAN, [])


@pytest.mark.parametrize(
    ("graph_ops", "function_ops", "flagged"),
    [
        (["ReadFile"], [], ["ReadFile"]),
        ([], ["WriteFile", "MatchingFiles"], ["MatchingFiles", "WriteFile"]),
        ([], ["EagerPyFunc"], ["EagerPyFunc"]),
        (["PyFunc"], ["PyFuncStateless"], ["PyFunc", "PyFuncStateless"]),
    ],
)
def test_saved_model_file_and_python_ops_are_flagged(graph_ops, function_ops, flagged):
    result = scan_bytes(corpus.saved_model(graph_ops, function_ops), name="saved_model.pb")

    assert result.verdict == Verdict.FLAGGED
    assert [f.message.split(",")[0] for f in result.findings] == [
        f"the graph uses {op}" for op in flagged]
    assert codes(result) == {"savedmodel.dangerous_op"}


def test_a_saved_model_inside_a_tar_is_scanned():
    data = corpus.build_tar([("model/saved_model.pb", corpus.saved_model([], ["ReadFile"])),
                             ("model/variables/variables.index", bytes(16))])

    assert codes(scan_bytes(data)) == {"savedmodel.dangerous_op"}


# --- 10. the opt-in allowlist of scikit-learn, XGBoost and LightGBM -------------------------


def test_an_sklearn_model_is_flagged_by_default_and_clean_with_the_allowlist():
    data = corpus.sklearn_model_pickle()

    default = scan_bytes(data, name="model.pkl")
    opted_in = corpus.scan_stream(io.BytesIO(data), name="model.pkl", pickle_allowlist="sklearn")

    assert (default.verdict, worst_codes(default)) == (Verdict.FLAGGED, {"pickle.unknown_global"})
    assert (opted_in.verdict, opted_in.findings) == (Verdict.CLEAN, [])


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("xgboost.sklearn", "XGBClassifier"),
        ("xgboost.core", "Booster"),
        ("lightgbm.sklearn", "LGBMRegressor"),
        ("sklearn.ensemble._forest", "RandomForestClassifier"),
        ("sklearn.tree._tree", "Tree"),
        ("sklearn._loss._loss", "__pyx_unpickle_CyHalfSquaredError"),
    ],
)
def test_the_sklearn_allowlist_allows_estimator_classes(module, name):
    data = corpus.call_pickle(module, name, protocol=4)

    result = corpus.scan_stream(io.BytesIO(data), pickle_allowlist="sklearn")

    assert result.verdict == Verdict.CLEAN


@pytest.mark.parametrize(
    ("module", "name", "code"),
    [
        ("os", "system", "pickle.dangerous_global"),
        ("sklearn.utils._testing", "assert_run_python_script_without_output",
         "pickle.unknown_global"),
        ("sklearn.datasets", "fetch_openml", "pickle.unknown_global"),
        ("sklearn.externals.joblib", "load", "pickle.dangerous_global"),
        ("sklearn.linear_model", "load_functions", "pickle.unknown_global"),
        ("xgboost.core", "_load_lib", "pickle.unknown_global"),
    ],
)
def test_the_sklearn_allowlist_keeps_everything_else_out(module, name, code):
    data = corpus.call_pickle(module, name, "x", protocol=4)

    result = corpus.scan_stream(io.BytesIO(data), pickle_allowlist="sklearn")

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {code}


def test_an_unknown_allowlist_name_is_refused():
    with pytest.raises(ValueError, match="no pickle allowlist named 'pandas'"):
        corpus.scan_stream(io.BytesIO(b""), pickle_allowlist="pandas")


def test_the_tenant_choices_are_the_scanner_allowlists():
    from accounts.models import PickleAllowlist
    from scanning.scanners.pickle_policy import NAMED_ALLOWLISTS

    assert set(PickleAllowlist.values) == {"", *NAMED_ALLOWLISTS}


def test_random_bytes_that_reach_an_extension_opcode_after_a_header_stay_clean():
    # The 73rd 8 MiB block of this seed made the sweep report a hidden pickle: a protocol
    # header, then a one-byte EXT import before the bytes stopped parsing (a CI push of
    # random bytes was refused this way).
    generator = random.Random(1)
    for _ in range(72):
        generator.randbytes(8 * 2**20)
    data = generator.randbytes(8 * 2**20)

    assert scan_bytes(data).verdict == Verdict.CLEAN
