import dataclasses
import io
import os

import pytest

import scanning.scanners as scanners
from scanning.scanners import (
    SCANNER_VERSION,
    Finding,
    ScanLimits,
    ScanResult,
    Severity,
    Verdict,
    scan_stream,
)
from tests.scanning import corpus
from tests.scanning.corpus import Member, codes, scan_bytes


def test_public_api():
    assert sorted(scanners.__all__) == sorted(
        ["SCANNER_VERSION", "Finding", "ScanLimits", "ScanResult", "Severity", "Verdict",
         "scan_stream"]
    )  # fmt: skip
    assert [s.value for s in Severity] == ["critical", "high", "medium", "low", "info"]
    assert [v.value for v in Verdict] == ["clean", "flagged", "error"]
    assert [f.name for f in dataclasses.fields(ScanResult)] == [
        "scanner", "scanner_version", "verdict", "findings", "detected_format",
        "duration_seconds", "incomplete",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(Finding)] == [
        "severity",
        "code",
        "message",
        "location",
    ]
    assert isinstance(SCANNER_VERSION, str) and SCANNER_VERSION


def test_default_limits():
    limits = ScanLimits()

    assert (
        limits.max_archive_entries,
        limits.max_total_uncompressed,
        limits.max_compression_ratio,
        limits.max_nesting,
        limits.max_pickle_bytes,
    ) == (10_000, 50 * 2**30, 200, 3, 512 * 2**20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_nesting = 9  # type: ignore[misc]


def test_result_reports_version_and_duration():
    result = scan_bytes(corpus.benign_checkpoint())

    assert result.scanner_version == SCANNER_VERSION
    assert 0 < result.duration_seconds < 5


def test_findings_are_frozen_values():
    finding = scan_bytes(corpus.call_pickle("os", "system", "id")).findings[0]

    assert finding == Finding(
        severity=Severity.CRITICAL,
        code="pickle.dangerous_global",
        message="imports os.system, which can run code, touch files or load other pickles",
        location="<stream>@offset 2",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.code = "x"  # type: ignore[misc]


def test_medium_findings_flag_and_info_findings_do_not():
    medium = corpus.build_zip([Member("a\\b.txt", b"x")])  # backslash: MEDIUM
    info = corpus.TEXT

    assert scan_bytes(medium).verdict == Verdict.FLAGGED
    assert scan_bytes(info).verdict == Verdict.CLEAN


def test_a_dangerous_finding_outranks_an_error():
    # A payload followed by broken bytes is FLAGGED, not an unexplained ERROR (issue 21).
    data = corpus.call_pickle("os", "system", "id")[:-1]

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"pickle.dangerous_global", "pickle.parse_error"}


def test_an_error_outranks_lesser_findings():
    # A MEDIUM finding does not explain a part that could not be read: that stays ERROR.
    members = [corpus.Member("a.txt", b"one"), corpus.Member("a.txt", b"two", method=99)]

    result = scan_bytes(corpus.build_zip(members))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"zip.duplicate_name", "zip.unsupported_compression"}


def test_the_name_never_chooses_the_scanner():
    data = corpus.npy(corpus.object_array())

    results = [scan_bytes(data, name=name) for name in ("a.npy", "a.pkl", "a.txt", "")]

    assert {(r.scanner, r.verdict, frozenset(codes(r))) for r in results} == {
        ("numpy", Verdict.FLAGGED, frozenset({"numpy.object_array"}))
    }


def test_the_stream_position_does_not_matter():
    stream = io.BytesIO(corpus.malicious_checkpoint())
    stream.seek(0, io.SEEK_END)

    assert scan_stream(stream).verdict == Verdict.FLAGGED


class _FailingStream(io.RawIOBase):
    """A storage stream that raises `error` on its second read."""

    def __init__(self, data: bytes, error: Exception) -> None:
        self._inner = io.BytesIO(data)
        self._error = error
        self._reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def readinto(self, buffer) -> int:  # noqa: ANN001
        self._reads += 1
        if self._reads > 1:
            raise self._error
        return self._inner.readinto(buffer)


def test_a_crash_fails_closed():
    reset = ConnectionResetError("the storage connection was reset")
    stream = _FailingStream(corpus.reduce_pickle(os.system, "x", protocol=2), reset)

    result = scan_stream(stream)

    assert result.verdict == Verdict.ERROR
    assert [f.code for f in result.findings] == ["scan.internal_error"]
    assert "ConnectionResetError" in result.findings[0].message
    assert result.scanner == "pickle"


class SoftTimeLimitExceeded(Exception):  # noqa: N818 - named like Celery's
    pass


def test_an_interruption_propagates_to_the_caller():
    stream = _FailingStream(corpus.benign_checkpoint(), SoftTimeLimitExceeded())

    with pytest.raises(SoftTimeLimitExceeded):
        scan_stream(stream)


def test_nesting_limit_is_configurable():
    inner = corpus.build_zip([Member("model.pkl", corpus.call_pickle("os", "system", "x"))])
    data = corpus.nested_zip(1, inner)

    assert codes(scan_bytes(data, limits=ScanLimits(max_nesting=1))) == {"archive.nesting_too_deep"}
    assert codes(scan_bytes(data, limits=ScanLimits(max_nesting=2))) == {"pickle.dangerous_global"}
