import os
import pickle

import numpy as np
import pytest

from scanning.scanners import ScanLimits, Severity, Verdict
from tests.scanning import corpus
from tests.scanning.corpus import codes, scan_bytes, worst_codes


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("target", sorted(corpus.REDUCE_TARGETS))
def test_reduce_to_a_dangerous_callable_is_critical(target, protocol):
    function, args = corpus.REDUCE_TARGETS[target]
    data = corpus.reduce_pickle(function, *args, protocol=protocol)

    result = scan_bytes(data, name="model.pkl")

    assert result.verdict == Verdict.FLAGGED
    assert result.scanner == "pickle"
    assert result.detected_format == "pickle"
    assert worst_codes(result) == {"pickle.dangerous_global"}
    assert all(f.severity == Severity.CRITICAL for f in result.findings)
    assert result.findings[0].location.startswith("model.pkl@offset ")


def test_the_finding_names_the_global_as_the_unpickler_resolves_it():
    result = scan_bytes(corpus.reduce_pickle(os.system, "id", protocol=0), name="m.pkl")

    # os.system pickles as posix.system on Linux; both are denied.
    assert [f.message for f in result.findings] == [
        "imports posix.system, which can run code, touch files or load other pickles"
    ]
    assert [f.location for f in result.findings] == ["m.pkl@offset 0"]


@pytest.mark.parametrize("gadget", sorted(corpus.LESSER_KNOWN_GADGETS))
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_lesser_known_gadgets_are_critical(gadget, protocol):
    module, name, *args = corpus.LESSER_KNOWN_GADGETS[gadget]

    result = scan_bytes(corpus.call_pickle(module, name, *args, protocol=protocol))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}


def test_getattr_chain_is_critical():
    result = scan_bytes(corpus.getattr_chain_pickle())

    assert result.verdict == Verdict.FLAGGED
    assert {f.message.split(",")[0] for f in result.findings} == {
        "imports builtins.getattr",
        "imports builtins.__import__",
    }


def test_stack_global_resolved_through_the_memo_despite_decoys():
    result = scan_bytes(corpus.memo_obfuscated_pickle())

    assert result.verdict == Verdict.FLAGGED
    assert [(f.code, f.message.split(",")[0]) for f in result.findings] == [
        ("pickle.dangerous_global", "imports builtins.eval")
    ]


def test_stack_global_on_a_value_computed_at_load_time_is_critical():
    result = scan_bytes(corpus.dynamic_global_pickle())

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.unresolved_global"}


def test_extension_codes_are_denied():
    result = scan_bytes(corpus.extension_pickle())

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.extension_code"}


def test_unknown_global_is_denied_by_default():
    data = corpus.call_pickle("sklearn.linear_model", "LogisticRegression", protocol=2)

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert [(f.severity, f.code) for f in result.findings] == [
        (Severity.HIGH, "pickle.unknown_global")
    ]


def test_attribute_walk_from_an_allowed_global_is_critical():
    data = corpus.call_pickle("collections", "OrderedDict.__init__.__globals__", protocol=4)

    assert worst_codes(scan_bytes(data)) == {"pickle.dangerous_global"}


def test_second_of_stacked_pickles_is_scanned():
    result = scan_bytes(corpus.stacked_pickles())

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}
    first_length = len(pickle.dumps({"weights": [0.5, 1.5]}, protocol=2))
    assert int(result.findings[0].location.rsplit(" ", 1)[1]) > first_length


def test_raw_bytes_after_complete_pickles_are_noted_not_failed():
    # Legacy torch.save files keep raw storage bytes after their pickles.
    data = pickle.dumps({"a": 1}, protocol=2) + b"\x00\x01\x02\x03" * 10

    result = scan_bytes(data)

    assert result.verdict == Verdict.CLEAN
    assert codes(result) == {"pickle.trailing_data"}


def test_truncated_pickle_is_an_error():
    result = scan_bytes(corpus.truncated_pickle(), name="model.pkl")

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"pickle.parse_error"}


def test_garbage_after_a_protocol_header_is_an_error():
    result = scan_bytes(b"\x80\x04\x95garbage that is no pickle")

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"pickle.parse_error"}


def test_malicious_opcodes_before_the_damage_are_still_reported():
    data = corpus.call_pickle("os", "system", "id", protocol=2)[:-1]  # no STOP

    result = scan_bytes(data)

    # The payload decides: FLAGGED, not an unexplained ERROR (issue 21).
    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"pickle.dangerous_global", "pickle.parse_error"}


@pytest.mark.parametrize("name", ["model.safetensors", "model.onnx", "notes.txt", "arr.npy"])
@pytest.mark.parametrize("protocol", [0, 4])
def test_a_pickle_is_found_by_content_whatever_its_name(name, protocol):
    data = corpus.reduce_pickle(os.system, "echo pwned", protocol=protocol)

    result = scan_bytes(data, name=name)

    assert result.scanner == "pickle"
    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}


@pytest.mark.parametrize("sample", sorted(corpus.benign_pickles()))
def test_pickles_of_plain_data_are_clean(sample):
    result = scan_bytes(corpus.benign_pickles()[sample])

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert result.detected_format == "pickle"


def test_protocol_0_text_pickle_without_globals_is_a_clean_pickle():
    result = scan_bytes(b"(lp0\nI1\naI2\na.")

    assert (result.verdict, result.detected_format, result.findings) == (
        Verdict.CLEAN,
        "pickle",
        [],
    )


def test_long_arguments_are_skipped_not_read():
    # 8 MB of array bytes inside the pickle: a seek, not a read.
    data = pickle.dumps(np.zeros(2**20), protocol=5)
    stream = corpus.CountingReader(data)

    result = corpus.scan_counting(stream)

    assert result.verdict == Verdict.CLEAN
    assert stream.bytes_read < len(data) // 10


def test_pickle_over_the_byte_limit_is_an_error():
    data = pickle.dumps(list(range(10_000)), protocol=0)

    result = scan_bytes(data, limits=ScanLimits(max_pickle_bytes=1000))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"pickle.too_large"}


def test_a_protocol_0_string_longer_than_a_line_read_is_skipped():
    data = b"\x80\x02S'" + b"a" * (3 * 2**16) + b"'\np0\n."

    result = scan_bytes(data, name="m.pkl")

    assert (result.verdict, result.detected_format, result.findings) == (
        Verdict.CLEAN,
        "pickle",
        [],
    )


def test_text_without_newlines_that_starts_like_an_opcode_is_not_a_pickle():
    result = scan_bytes(b"S'" + b"x" * (3 * 2**16))

    assert (result.scanner, result.verdict) == ("unknown", Verdict.CLEAN)


def test_values_past_the_modelling_cap_are_plain_constants(monkeypatch):
    from scanning.scanners import pickle as pickle_scanner

    data = corpus.joblib_file({"x": np.zeros(3)})
    assert scan_bytes(data).verdict == Verdict.CLEAN
    monkeypatch.setattr(pickle_scanner, "_MAX_MODELLED", 2)

    result = scan_bytes(data)

    # The wrapper's state is no longer modelled: the array cannot be sized, so not skipped.
    assert result.verdict == Verdict.ERROR
    assert [f.message for f in result.findings] == [
        "the pickle cannot be read: a joblib array whose dtype or shape is computed at load time"
    ]
