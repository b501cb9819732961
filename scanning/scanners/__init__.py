"""Content scanners for uploaded artifacts: pure Python, no Django.

`scan_stream` reads a seekable binary stream, chooses scanners by content (never by name) and
reports findings with a verdict: CLEAN, FLAGGED (a finding of MEDIUM or worse) or ERROR (content
that could not be fully inspected; fail closed).
"""

from .detect import scan_stream
from .result import SCANNER_VERSION, Finding, ScanLimits, ScanResult, Severity, Verdict

__all__ = [
    "SCANNER_VERSION",
    "Finding",
    "ScanLimits",
    "ScanResult",
    "Severity",
    "Verdict",
    "scan_stream",
]
