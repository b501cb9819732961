import json
import struct

import numpy as np
import pytest

from scanning.scanners import Severity, Verdict
from tests.scanning import corpus
from tests.scanning.corpus import codes, scan_bytes, worst_codes

# --- NumPy --------------------------------------------------------------------------------


def test_float_npy_is_clean():
    result = scan_bytes(corpus.npy(np.arange(12.0).reshape(3, 4)), name="arr.npy")

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert (result.scanner, result.detected_format) == ("numpy", "npy")


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_of_float_arrays_is_clean(compressed):
    data = corpus.npz(compressed, a=np.arange(5.0), b=np.ones((2, 2), np.int64))

    result = scan_bytes(data, name="arrays.npz")

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert (result.scanner, result.detected_format) == ("zip", "npz")


def test_object_npy_is_flagged():
    result = scan_bytes(corpus.npy(corpus.object_array()), name="arr.npy")

    assert result.verdict == Verdict.FLAGGED
    assert [(f.severity, f.code, f.location) for f in result.findings] == [
        (Severity.HIGH, "numpy.object_array", "arr.npy")
    ]


def test_object_npy_payload_is_scanned_as_a_pickle():
    result = scan_bytes(corpus.npy(corpus.malicious_object_array()), name="arr.npy")

    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"numpy.object_array", "pickle.dangerous_global"}


@pytest.mark.parametrize("compressed", [False, True])
def test_object_array_inside_npz_is_flagged(compressed):
    data = corpus.npz(compressed, ok=np.arange(3.0), bad=corpus.malicious_object_array())

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert {(f.code, f.location.split("@")[0]) for f in result.findings} == {
        ("numpy.object_array", "bad.npy"),
        ("pickle.dangerous_global", "bad.npy"),
    }


@pytest.mark.parametrize(
    "descr", ["|O", "O", "object", "<f8,O", [("a", "<f4"), ("b", [("c", "|O")])]]
)
def test_object_types_are_found_in_any_descr_spelling(descr):
    header = repr({"descr": descr, "fortran_order": False, "shape": (1,)}).encode()
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x80\x02N."

    assert worst_codes(scan_bytes(data)) == {"numpy.object_array"}


def test_npy_with_an_unparseable_header_is_an_error():
    header = b"{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header

    result = scan_bytes(data)

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"numpy.invalid_header"}


# --- safetensors --------------------------------------------------------------------------


def test_safetensors_file_is_clean():
    result = scan_bytes(corpus.safetensors_file(), name="model.safetensors")

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert (result.scanner, result.detected_format) == ("safetensors", "safetensors")


@pytest.mark.parametrize(
    ("header", "data"),
    [
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}, bytes(16)),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(16)),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            bytes(12),
        ),
        ({"w": {"dtype": "PY_OBJECT", "shape": [1], "data_offsets": [0, 1]}}, bytes(1)),
        ({"__metadata__": {"n": 1}}, b""),
        ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)),
    ],
    ids=["wrong size", "gap", "overlap", "unknown dtype", "metadata not str", "negative shape"],
)
def test_invalid_safetensors_headers_are_errors(header, data):
    result = scan_bytes(corpus.safetensors_with_header(header, data))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"safetensors.invalid_header"}


def test_safetensors_header_length_past_the_end_is_an_error():
    data = corpus.safetensors_file()
    truncated = data[:40]

    result = scan_bytes(truncated)

    assert (result.scanner, result.verdict) == ("safetensors", Verdict.ERROR)
    assert codes(result) == {"safetensors.invalid_header"}


def test_safetensors_header_with_duplicate_keys_is_an_error():
    text = b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],'
    text += b'"data_offsets":[0,1]}}'

    result = scan_bytes(struct.pack("<Q", len(text)) + text + b"\x00")

    assert codes(result) == {"safetensors.invalid_header"}


# --- Keras --------------------------------------------------------------------------------


def test_keras_h5_without_lambda_is_clean():
    result = scan_bytes(corpus.keras_h5(with_lambda=False), name="model.h5")

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert (result.scanner, result.detected_format) == ("hdf5", "keras-hdf5")


def test_keras_h5_with_lambda_is_flagged():
    result = scan_bytes(corpus.keras_h5(with_lambda=True), name="model.h5")

    assert result.verdict == Verdict.FLAGGED
    assert [(f.code, f.location) for f in result.findings] == [
        ("keras.lambda_layer", "model.h5:model_config")
    ]
    assert "'evil'" in result.findings[0].message


@pytest.mark.parametrize("compression", [corpus.STORED, corpus.DEFLATED])
def test_keras_v3_with_lambda_is_flagged(compression):
    result = scan_bytes(corpus.keras_v3(True, compression), name="model.keras")

    assert result.verdict == Verdict.FLAGGED
    assert (result.scanner, result.detected_format) == ("zip", "keras")
    assert [(f.code, f.location) for f in result.findings] == [
        ("keras.lambda_layer", "config.json")
    ]


@pytest.mark.parametrize("compression", [corpus.STORED, corpus.DEFLATED])
def test_keras_v3_without_lambda_is_clean(compression):
    result = scan_bytes(corpus.keras_v3(False, compression))

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []


def test_keras_json_config_importing_a_dangerous_module():
    config = {"module": "os", "class_name": "system", "config": {"name": "x"}}

    result = scan_bytes(json.dumps(config).encode(), name="model.json")

    assert (result.scanner, result.verdict) == ("keras", Verdict.FLAGGED)
    assert codes(result) == {"keras.dangerous_module"}


def test_corrupt_hdf5_is_an_error():
    result = scan_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"hdf5.parse_error"}


# --- ONNX ---------------------------------------------------------------------------------


def test_onnx_model_is_clean():
    result = scan_bytes(corpus.onnx_model(), name="model.onnx")

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert (result.scanner, result.detected_format) == ("onnx", "onnx")


def test_onnx_external_data_next_to_the_model_is_clean():
    result = scan_bytes(corpus.onnx_model(external_location="weights/model.bin"))

    assert (result.detected_format, result.verdict, result.findings) == ("onnx", "clean", [])


@pytest.mark.parametrize(
    "location", ["../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "a/../../b"]
)
def test_onnx_external_data_escaping_the_folder_is_flagged(location):
    result = scan_bytes(corpus.onnx_model(external_location=location), name="model.onnx")

    assert result.verdict == Verdict.FLAGGED
    assert [(f.severity, f.code) for f in result.findings] == [
        (Severity.HIGH, "onnx.external_data_escape")
    ]
    assert f"{location!r}" in result.findings[0].message


# --- content no scanner applies to -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detected"),
    [(corpus.TEXT, "text"), (corpus.PNG_HEADER, "png"), (b"\x00\x01\x02\x03" * 64, "unknown")],
)
def test_content_without_dangerous_parts_is_clean_and_unrecognised(data, detected):
    result = scan_bytes(data)

    assert (result.scanner, result.detected_format) == ("unknown", detected)
    assert result.verdict == Verdict.CLEAN
    assert [(f.severity, f.code) for f in result.findings] == [
        (Severity.INFO, "format.unrecognised")
    ]


def test_other_protobufs_are_not_taken_for_onnx():
    import onnx

    tensor = onnx.helper.make_tensor("t", onnx.TensorProto.INT64, [4], [1, 2, 3, 4])

    result = scan_bytes(tensor.SerializeToString())

    assert (result.scanner, result.verdict) == ("unknown", Verdict.CLEAN)
