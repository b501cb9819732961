"""The public value types of the scanner suite: what a scan reports and under which limits."""

from dataclasses import dataclass, field
from enum import StrEnum

# One version for the whole suite: bump it whenever a rule, list or limit changes, so that
# stored files are rescanned.
SCANNER_VERSION = "1.1.0"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Verdict(StrEnum):
    CLEAN = "clean"
    FLAGGED = "flagged"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # e.g. "pickle.unsafe_global"
    message: str
    location: str  # e.g. "archive/data.pkl@offset 123" or "entry ../x"


@dataclass(frozen=True)
class ScanLimits:
    max_archive_entries: int = 10_000
    max_total_uncompressed: int = 50 * 2**30
    max_compression_ratio: int = 200
    # Tiny members compress absurdly well (a 10 KB run of zeros is 1000:1); the ratio check
    # only starts to mean "bomb" above this size.
    min_bomb_size: int = 2**20
    max_nesting: int = 3
    max_pickle_bytes: int = 512 * 2**20
    max_npy_header_bytes: int = 2**20
    max_safetensors_header_bytes: int = 100_000_000
    max_json_config_bytes: int = 64 * 2**20


@dataclass
class ScanResult:
    scanner: str  # "pickle", "zip", "pytorch", "numpy", "hdf5", "onnx", "safetensors", ...
    scanner_version: str
    verdict: Verdict
    findings: list[Finding] = field(default_factory=list)
    detected_format: str = ""
    duration_seconds: float = 0.0
    # Part of the content could not be read (a failure finding), whatever the verdict.
    incomplete: bool = False
