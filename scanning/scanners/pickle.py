"""Pickle scanner: walks the opcodes with pickletools.genops (never unpickles) and judges every
global the stream imports.

A small model of the unpickler's stack and memo runs alongside, so that STACK_GLOBAL is resolved
from the strings actually on the stack, including strings fetched back from the memo (the usual
obfuscation), and so that the walk fails exactly where `pickle.load` would fail: opcodes past
that point can never run.
"""

import io
import math
import pickletools
import re
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import BinaryIO

from .blob import BUFFER_SIZE, Blob
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
# Protocol 0 opcodes whose argument line is a value (INT, LONG, FLOAT, STRING, UNICODE, PERSID).
_LINE_LITERALS = (b"I", b"L", b"F", b"S", b"V", b"P")
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


@dataclass(frozen=True, eq=False)
class _Global(_Unknown):
    """An imported global: known by name, though its value is still computed at load time."""

    module: str
    name: str


class _ArrayWrapper(_Unknown):
    """joblib's NumpyArrayWrapper, whose BUILD makes joblib read raw array bytes."""


@dataclass(frozen=True, eq=False)
class _DType(_Unknown):
    descr: object


# joblib stores each numpy array as this wrapper object followed, in the pickle stream, by
# the array's raw bytes (or, for object arrays, by a nested pickle), which its unpickler reads
# after the wrapper's BUILD. Only joblib does: for any other loader they are more opcodes.
JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_INTEGERS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})
_TUPLES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
# Tuples and dict items modelled per pickle, beyond which they are plain constants: a 512 MB
# pickle of tiny tuples must not cost gigabytes. joblib states after that many cannot be sized.
_MAX_MODELLED = 1_000_000
_ITEMSIZE = re.compile(r"[<>|=]?([?bBhHiIlLqQefdgFDGbiufcmMOSUV])(\d*)(\[\w+\])?")
_CODE_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8,
               "q": 8, "Q": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32}


class _ArrayData(Exception):
    """Raised at a joblib array's BUILD: its bytes follow (None for an object array)."""

    def __init__(self, length: int | None, aligned: bool) -> None:
        self.length = length
        self.aligned = aligned


class PickleError(ValueError):
    """The unpickler would stop here (genops raises ValueError for the same reason)."""


class PickleTooLarge(Exception):
    pass


class _LongLine(Exception):
    """A text opcode's argument line longer than SKIP_ARGUMENT_BYTES."""


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
        self.opcode = b""  # the code of the opcode being read

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
        if self._position == self.opcode_position:
            self.opcode = data
        self._position = end
        return data

    def readline(self) -> bytes:
        # Bounded: a text member without newlines must not become one 500 MB line in memory.
        line = self._raw.readline(SKIP_ARGUMENT_BYTES)
        self._position += len(line)
        self._charge(len(line))
        if line.endswith(b"\n") or self._position >= self._size:
            return line
        raise _LongLine

    def skip_line(self) -> None:
        """Reads on to the end of an over-long line, in pieces, charging the budget."""
        while self._position < self._size:
            line = self._raw.readline(BUFFER_SIZE)
            self._position += len(line)
            self._charge(len(line))
            if line.endswith(b"\n"):
                return

    def skip(self, length: int) -> None:
        if self._position + length > self._size:
            raise PickleError(f"pickle data truncated: {length} bytes wanted at the end")
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
    long_lines: bool = True  # whether over-long text arguments are skipped or refused
    allowlist: str = ""  # the named allowlist of pickle_policy in force
    stack: list[object] = field(default_factory=list)
    memo: dict[int, object] = field(default_factory=dict)
    # Findings keyed so that a global imported a thousand times is reported once.
    findings: dict[tuple[str, str], tuple[Severity, str, int]] = field(default_factory=dict)
    reached_code: bool = False  # this segment imported something
    # Spans (start, length) of joblib array bytes: skipped by joblib, opcodes for pickle.load.
    arrays: list[tuple[int, int]] = field(default_factory=list)
    modelled: int = 0  # tuples and dict items built so far (_MAX_MODELLED)

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
            except _LongLine:
                self._long_line(reader)
            except _ArrayData as array:
                self._array_data(reader, array)

    def _array_data(self, reader: _Reader, array: _ArrayData) -> None:
        """Steps over a joblib array the way joblib's unpickler reads it."""
        if array.length is None:  # an object array: a pickle of its own, then the rest
            stack, memo = self.stack, self.memo
            self.stack, self.memo = [], {}
            self._run(reader)
            self.stack, self.memo = stack, memo
        else:
            if array.aligned:  # a byte giving the padding's length, then the padding
                reader.skip(reader.read(1)[0])
            start = reader.tell()
            reader.skip(array.length)
            self.arrays.append((start, array.length))
        self.stack.append(_UNKNOWN)

    def _long_line(self, reader: _Reader) -> None:
        if not self.long_lines:
            # Content not known to be a pickle: such a line is text, not an opcode argument.
            raise PickleError(f"a line longer than {SKIP_ARGUMENT_BYTES} bytes")
        if reader.opcode not in _LINE_LITERALS:
            raise PickleError("a global name or memo key longer than any valid one")
        # Protocol 0 literals (strings, numbers): data, skipped as long arguments are.
        reader.skip_line()
        self.stack.append(_UNKNOWN if reader.opcode == b"P" else _CONSTANT)

    def _step(self, opcode: pickletools.OpcodeInfo, argument: object, position: int) -> None:
        name = opcode.name
        if name in _STRINGS:
            self.stack.append(argument)
        elif name in ("GLOBAL", "INST"):
            module, _, attribute = str(argument).partition(" ")
            self._import(module, attribute, position)
            if name == "GLOBAL":
                self.stack.append(_Global(*normalise(module, attribute)))
            else:
                self._pop_mark()
                self.stack.append(_UNKNOWN)
        elif name == "STACK_GLOBAL":
            attribute, module = self._pop(), self._pop()
            if isinstance(module, str) and isinstance(attribute, str):
                self._import(module, attribute, position)
                self.stack.append(_Global(*normalise(module, attribute)))
                return
            if isinstance(module, _Unknown) or isinstance(attribute, _Unknown):
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
        elif not self._joblib_step(name, argument):
            self._generic(opcode)

    def _joblib_step(self, name: str, argument: object) -> bool:
        """Models the values that describe a joblib array (ints, tuples, dicts, dtypes and the
        wrapper); returns False for opcodes left to _generic."""
        if name in _TUPLES or name in ("TUPLE", "SETITEM", "SETITEMS"):
            self.modelled += 1
            if self.modelled > _MAX_MODELLED:
                return False
        if name in _INTEGERS and isinstance(argument, int):
            self.stack.append(argument)
        elif name in _TUPLES:
            items = [self._pop() for _ in range(_TUPLES[name])][::-1]
            self.stack.append(tuple(items))
        elif name == "TUPLE":
            self.stack.append(tuple(self._pop_mark()))
        elif name == "EMPTY_DICT":
            self.stack.append({})
        elif name == "NONE":
            self.stack.append(None)
        elif name in ("SETITEM", "SETITEMS"):
            items = [self._pop(), self._pop()][::-1] if name == "SETITEM" else self._pop_mark()
            target = self._pop()
            if len(items) % 2:
                raise PickleError("odd number of items for SETITEMS")
            if isinstance(target, dict):
                try:
                    target.update(zip(items[::2], items[1::2], strict=True))
                except TypeError as error:  # an unhashable key: the unpickler fails too
                    raise PickleError(str(error)) from error
            self.stack.append(target)
        elif name in ("REDUCE", "NEWOBJ"):
            arguments, callable_ = self._pop(), self._pop()
            self.stack.append(_made_by(callable_, arguments))
        elif name == "BUILD":
            state = self._pop()
            if not self.stack or self.stack[-1] is _MARK:
                raise PickleError("unpickling stack underflow")
            if isinstance(self.stack[-1], _ArrayWrapper):
                self.stack.pop()
                raise _array_data(state)
        else:
            return False
        return True

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

    def _pop_mark(self) -> list[object]:
        """Pops down to the topmost MARK; returns what was above it, bottom first."""
        items: list[object] = []
        while self.stack:
            item = self.stack.pop()
            if item is _MARK:
                return items[::-1]
            items.append(item)
        raise PickleError("could not find MARK")

    def _import(self, module: str, attribute: str, position: int) -> None:
        # The unpickler imports the module and walks the attribute path; names that cannot be
        # imported stop it right here, so nothing after them runs.
        if not _importable(module) or not _importable(attribute):
            raise PickleError(f"global {module!r} {attribute!r} cannot be imported")
        severity = judge(module, attribute, self.allowlist)
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


def _made_by(callable_: object, arguments: object) -> object:
    if isinstance(callable_, _Global):
        target = (callable_.module, callable_.name)
        if target == JOBLIB_WRAPPER:
            return _ArrayWrapper()
        if target == ("numpy", "dtype") and isinstance(arguments, tuple) and arguments:
            return _DType(arguments[0])
    return _UNKNOWN


def _array_data(state: object) -> _ArrayData:
    """What joblib reads after a wrapper whose state is `state`."""
    if not isinstance(state, dict) or not isinstance(state.get("dtype"), _DType):
        raise PickleError("a joblib array whose dtype or shape is computed at load time")
    descr, shape = state["dtype"].descr, state.get("shape")
    shape = (shape,) if isinstance(shape, int) else shape
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise PickleError(f"a joblib array of shape {shape!r}")
    aligned = state.get("numpy_array_alignment_bytes") is not None
    match = _ITEMSIZE.fullmatch(descr) if isinstance(descr, str) else None
    if match is None:
        raise PickleError(f"a joblib array of dtype {descr!r}, which the scan cannot size")
    code, digits, _unit = match.groups()
    if code == "O":
        return _ArrayData(None, aligned)
    if digits:
        itemsize = int(digits) * (4 if code == "U" else 1)
    elif code in _CODE_SIZES:
        itemsize = _CODE_SIZES[code]
    else:
        raise PickleError(f"a joblib array of dtype {descr!r}, which the scan cannot size")
    return _ArrayData(math.prod(shape) * itemsize, aligned)


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
    machine = _Machine(
        location, offset, long_lines=claim is Claim.CLAIMED, allowlist=context.pickle_allowlist
    )
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
    # joblib's array bytes are opcodes to any other unpickler of the file.
    for start, length in machine.arrays:
        array = blob.slice(start, length)
        scan(array, location, context, claim=Claim.HIDDEN, offset=offset + start)
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
