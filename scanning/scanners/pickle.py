"""Pickle scanner: walks the opcodes with pickletools.genops (never unpickles) and judges every
global the stream imports.

A small model of the unpickler's stack and memo runs alongside, so that STACK_GLOBAL is resolved
from the strings actually on the stack, including strings fetched back from the memo (the usual
obfuscation), and so that the walk fails exactly where `pickle.load` would fail: opcodes past
that point can never run.
"""

import io
import pickletools
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import BinaryIO

from .blob import Blob
from .context import Context
from .pickle_policy import judge, normalise
from .result import Severity

HIGHEST_PROTOCOL = 5
PROTOCOL_PREFIXES = tuple(bytes([0x80, protocol]) for protocol in range(HIGHEST_PROTOCOL + 1))

_STRINGS = frozenset({
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8",
})  # fmt: skip
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_EXTENSIONS = frozenset({"EXT1", "EXT2", "EXT4"})
_JUDGEMENTS = {
    Severity.CRITICAL: (
        "pickle.dangerous_global",
        "which can run code, touch files or load other pickles",
    ),
    Severity.HIGH: (
        "pickle.unknown_global",
        "which is not on the allowlist of plain-data globals",
    ),
}


class _Mark:
    """pickle's MARK on the modelled stack."""


class _Unknown:
    """A value computed at load time (a call's result): it could be any object, a str too."""


class _Constant:
    """A literal that is not a str (int, None, bytes, an empty list, ...)."""


_MARK, _UNKNOWN, _CONSTANT = _Mark(), _Unknown(), _Constant()


class PickleError(ValueError):
    """The unpickler would stop here (genops raises ValueError for the same reason)."""


class PickleTooLarge(Exception):
    pass


class _LongArgument(Exception):
    """An opcode argument too long to be worth reading; the walk steps over it."""

    def __init__(self, length: int) -> None:
        self.length = length


# Arguments this long (tensor bytes, long strings) are skipped, not read: no import can hide in
# them, and a 2 GB BINBYTES8 must cost a seek, not 2 GB of memory. A string this long is no
# importable module name either.
SKIP_ARGUMENT_BYTES = 64 * 1024


class _Reader:
    """What genops reads from. Refuses reads past the end before allocating them, hands long
    arguments back to the walk to skip, and charges the bytes it parses to the budget."""

    def __init__(self, raw: BinaryIO, size: int, limit: int) -> None:
        self._raw = raw
        self._size = size
        self._budget = limit
        self._position = 0
        self.opcode_position = 0

    def tell(self) -> int:
        # genops asks once per opcode, right before reading it.
        self.opcode_position = self._position
        return self._position

    def read(self, length: int) -> bytes:
        end = self._position + length
        if end > self._size:
            raise PickleError(f"pickle data truncated: {length} bytes wanted at the end")
        if length >= SKIP_ARGUMENT_BYTES:
            raise _LongArgument(length)
        self._charge(length)
        data = self._raw.read(length)
        self._position = end
        return data

    def readline(self) -> bytes:
        line = self._raw.readline(self._budget)
        self._position += len(line)
        if not line.endswith(b"\n") and len(line) == self._budget and self._position < self._size:
            raise PickleTooLarge
        self._charge(len(line))
        return line

    def skip(self, length: int) -> None:
        self._raw.seek(length, io.SEEK_CUR)
        self._position += length

    def _charge(self, length: int) -> None:
        self._budget -= length
        if self._budget < 0:
            raise PickleTooLarge


@dataclass
class _Machine:
    """The unpickler's stack and memo, with values reduced to what matters for imports."""

    location: str
    offset: int
    stack: list[object] = field(default_factory=list)
    memo: dict[int, object] = field(default_factory=dict)
    # Findings keyed so that a global imported a thousand times is reported once.
    findings: dict[tuple[str, str], tuple[Severity, str, int]] = field(default_factory=dict)
    reached_code: bool = False  # this segment imported something

    def run(self, reader: _Reader) -> None:
        """Walks one pickle, up to and including its STOP."""
        self.stack.clear()
        self.reached_code = False
        # genops decodes string arguments with codecs.escape_decode, which warns about odd
        # escapes in whatever bytes it is shown: data for a scanner, not news (and not an
        # exception under -W error).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._run(reader)

    def _run(self, reader: _Reader) -> None:
        while True:
            try:
                for opcode, argument, position in pickletools.genops(reader):  # type: ignore[arg-type]
                    self._step(opcode, argument, position)
                return
            except _LongArgument as skipped:
                # Only literal opcodes take long arguments; their value is data, never a name.
                reader.skip(skipped.length)
                self.stack.append(_CONSTANT)

    def _step(self, opcode: pickletools.OpcodeInfo, argument: object, position: int) -> None:
        name = opcode.name
        if name in _STRINGS:
            self.stack.append(argument)
        elif name in ("GLOBAL", "INST"):
            module, _, attribute = str(argument).partition(" ")
            self._import(module, attribute, position)
            if name == "GLOBAL":
                self.stack.append(_UNKNOWN)
            else:
                self._pop_mark()
                self.stack.append(_UNKNOWN)
        elif name == "STACK_GLOBAL":
            attribute, module = self._pop(), self._pop()
            if isinstance(module, str) and isinstance(attribute, str):
                self._import(module, attribute, position)
            elif _UNKNOWN in (module, attribute):
                self.reached_code = True
                self._record(
                    Severity.CRITICAL,
                    "pickle.unresolved_global",
                    "<computed at load time>",
                    "STACK_GLOBAL takes its module or name from a value computed at load time",
                    position,
                )
            else:
                raise PickleError("STACK_GLOBAL requires str")
            self.stack.append(_UNKNOWN)
        elif name in _EXTENSIONS:
            # Not evidence of a pickle: with the registry empty, as it is unless a program fills
            # it, the unpickler fails here; random bytes hit these opcodes all the time.
            self._record(
                Severity.HIGH,
                "pickle.extension_code",
                f"extension {argument}",
                f"imports whatever copyreg extension code {argument} is registered to at load time",
                position,
            )
            self.stack.append(_UNKNOWN)
        elif name in _MEMO_PUTS or name == "MEMOIZE":
            if not self.stack or self.stack[-1] is _MARK:
                raise PickleError(f"{name} on an empty stack")
            key = len(self.memo) if name == "MEMOIZE" else int(argument)  # type: ignore[arg-type]
            self.memo[key] = self.stack[-1]
        elif name in _MEMO_GETS:
            if argument not in self.memo:
                raise PickleError(f"memo key {argument} missing")
            self.stack.append(self.memo[argument])  # type: ignore[index]
        elif name == "DUP":
            self.stack.append(self._pop())
            self.stack.append(self.stack[-1])
        elif name == "PROTO":
            if int(argument) > HIGHEST_PROTOCOL:  # type: ignore[call-overload]
                raise PickleError(f"unsupported pickle protocol {argument}")
        else:
            self._generic(opcode)

    def _generic(self, opcode: pickletools.OpcodeInfo) -> None:
        """Pops and pushes what pickletools documents for the opcode (as pickletools.dis does)."""
        before, after = opcode.stack_before, opcode.stack_after
        to_pop = len(before)
        if pickletools.markobject in before or (
            opcode.name == "POP" and self.stack and self.stack[-1] is _MARK
        ):
            self._pop_mark()
            to_pop = before.index(pickletools.markobject) if opcode.name != "POP" else 0
        for _ in range(to_pop):
            self._pop()
        for kind in after:
            if kind is pickletools.markobject:
                self.stack.append(_MARK)
            elif kind is pickletools.anyobject:
                self.stack.append(_UNKNOWN)
            else:
                self.stack.append(_CONSTANT)

    def _pop(self) -> object:
        if not self.stack or self.stack[-1] is _MARK:
            raise PickleError("unpickling stack underflow")
        return self.stack.pop()

    def _pop_mark(self) -> None:
        while self.stack:
            if self.stack.pop() is _MARK:
                return
        raise PickleError("could not find MARK")

    def _import(self, module: str, attribute: str, position: int) -> None:
        # The unpickler imports the module and walks the attribute path; names that cannot be
        # imported stop it right here, so nothing after them runs.
        if not _importable(module) or not _importable(attribute):
            raise PickleError(f"global {module!r} {attribute!r} cannot be imported")
        severity = judge(module, attribute)
        module, attribute = normalise(module, attribute)
        qualified = f"{module}.{attribute}"
        if severity is not None:
            code, why = _JUDGEMENTS[severity]
            self._record(severity, code, qualified, f"imports {qualified}, {why}", position)
        self.reached_code = True

    def _record(
        self, severity: Severity, code: str, subject: str, message: str, position: int
    ) -> None:
        self.findings.setdefault((code, subject), (severity, message, position))


def _importable(dotted: str) -> bool:
    return bool(dotted) and all(part.isidentifier() for part in dotted.split("."))


class Claim(Enum):
    """How sure the caller is that the content is a pickle."""

    # Selected as a pickle (protocol header, `.pkl` member): a failure to parse is an ERROR.
    CLAIMED = "claimed"
    # Matched no other format: a pickle if its first pickle completes or imports something.
    CANDIDATE = "candidate"
    # Another format's content (or tensor bytes): reported only if it imports something.
    HIDDEN = "hidden"


@dataclass
class _Outcome:
    complete: int = 0  # pickles read to their STOP
    imported: bool = False
    trailing_from: int | None = None  # start of bytes after the last pickle that are none
    failure: tuple[str, str, int] | None = None  # code, message, offset

    @property
    def gave_up_at_once(self) -> bool:
        """Failed within the first pickle, before importing anything (and not for its size)."""
        too_large = self.failure is not None and self.failure[0] == "pickle.too_large"
        return self.complete == 0 and not self.imported and not too_large


def scan(blob: Blob, location: str, context: Context, *, claim: Claim, offset: int = 0) -> bool:
    """Scans `blob` as a sequence of pickles (several may be stacked until the end) and
    returns whether it was one; content that is not (see Claim) records nothing. An unpickler
    gives up at the first opcode it cannot read, so what comes after that can never run.
    `offset` is where the blob starts in the content named by `location`.
    """
    machine = _Machine(location, offset)
    outcome = _walk(machine, blob, context.limits.max_pickle_bytes)
    if outcome.complete == 0 and outcome.failure is None:
        if claim is Claim.CLAIMED:
            context.fail("pickle.parse_error", "the pickle is empty", location)
        return claim is Claim.CLAIMED
    if (claim is Claim.HIDDEN and not outcome.imported) or (
        claim is Claim.CANDIDATE and outcome.gave_up_at_once
    ):
        return False
    _report(machine, context)
    if outcome.trailing_from is not None:
        context.add(
            Severity.INFO,
            "pickle.trailing_data",
            f"{blob.size - outcome.trailing_from} bytes after the last pickle are not a pickle",
            f"{location}@offset {offset + outcome.trailing_from}",
        )
    if outcome.failure is not None:
        code, message, position = outcome.failure
        context.fail(code, message, f"{location}@offset {offset + position}")
    return True


def _walk(machine: _Machine, blob: Blob, limit: int) -> _Outcome:
    outcome = _Outcome()
    reader = _Reader(blob.open(), blob.size, limit)
    while reader.tell() < blob.size:
        start = reader.tell()
        earlier_findings = dict(machine.findings)
        try:
            machine.run(reader)
        except PickleTooLarge:
            outcome.imported |= machine.reached_code
            message = f"pickle data goes on past the {limit} byte limit"
            outcome.failure = ("pickle.too_large", message, start)
            break
        except ValueError as error:  # genops and the machine both raise ValueError
            outcome.imported |= machine.reached_code
            if outcome.complete and not machine.reached_code:
                # Bytes after a complete pickle that could never run (legacy torch files keep
                # raw tensor data there): the unpickler stops before importing anything.
                machine.findings = earlier_findings
                outcome.trailing_from = start
            else:
                message = f"the pickle cannot be read: {error}"
                outcome.failure = ("pickle.parse_error", message, reader.opcode_position)
            break
        outcome.imported |= machine.reached_code
        outcome.complete += 1
    return outcome


def _report(machine: _Machine, context: Context) -> None:
    for (code, _subject), (severity, message, position) in machine.findings.items():
        context.add(
            severity, code, message, f"{machine.location}@offset {machine.offset + position}"
        )
