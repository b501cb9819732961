"""State shared by the scanners during one scan: limits, findings, failure, recursion."""

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from .blob import Blob
from .result import Finding, ScanLimits, Severity, Verdict


@dataclass(frozen=True)
class Kind:
    """What some content turned out to be, and which scanner read it."""

    scanner: str
    format: str


# scan_nested(blob, location, nesting) scans a member of a container with the full dispatcher.
NestedScan = Callable[[Blob, str, int], Kind]


@dataclass
class Context:
    limits: ScanLimits
    scan_nested: NestedScan
    # A named allowlist of pickle globals the tenant opted in to (pickle_policy), or "".
    pickle_allowlist: str = ""
    findings: list[Finding] = field(default_factory=list)
    _recorded: set[Finding] = field(default_factory=set, init=False, repr=False)
    failed: bool = False
    # The findings that record a failure to read (fail()), as opposed to what content holds.
    _failures: set[Finding] = field(default_factory=set, init=False, repr=False)
    # Spooled temporary files of decompressed members, closed when the scan ends.
    resources: ExitStack = field(default_factory=ExitStack)

    def add(self, severity: Severity, code: str, message: str, location: str) -> None:
        finding = Finding(severity=severity, code=code, message=message, location=location)
        if finding not in self._recorded:
            self._recorded.add(finding)
            self.findings.append(finding)

    def fail(self, code: str, message: str, location: str) -> None:
        """Records that content selected by its format could not be read: the verdict is ERROR."""
        self.failed = True
        self.add(Severity.HIGH, code, message, location)
        self._failures.add(Finding(Severity.HIGH, code, message, location))

    def too_deep(self, nesting: int, location: str) -> bool:
        """Whether the members of a container at `nesting` would be nested too deeply to open."""
        if nesting + 1 <= self.limits.max_nesting:
            return False
        # What is inside was not inspected, so this fails closed rather than merely flagging.
        self.fail(
            "archive.nesting_too_deep",
            f"archives nested more than {self.limits.max_nesting} deep are not opened",
            location,
        )
        return True

    def verdict(self) -> Verdict:
        # Content already judged dangerous (HIGH or worse: code, unknown imports, escapes) is
        # FLAGGED even if a later part could not be read: payloads are followed by broken
        # bytes precisely so that the scan ends as an unexplained error. Otherwise an
        # unreadable part may hide anything, so ERROR outranks the lesser findings: a tenant
        # policy of "warn" keeps flagged files downloadable, never files not fully inspected.
        content = [f for f in self.findings if f not in self._failures]
        if any(f.severity.rank >= Severity.HIGH.rank for f in content):
            return Verdict.FLAGGED
        if self.failed:
            return Verdict.ERROR
        if any(f.severity.rank >= Severity.MEDIUM.rank for f in content):
            return Verdict.FLAGGED
        return Verdict.CLEAN


def member_location(container: str, nesting: int, member: str) -> str:
    """Members of the top-level container are named as-is; deeper ones keep their parents."""
    return member if nesting == 0 else f"{container}!{member}"
