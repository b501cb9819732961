"""Pickles that do not start at byte 0: hidden behind junk or another format's magic in
content no scanner claimed, where a loader that seeks before unpickling would find them.

The content is searched, in pieces of constant size, for what starts a pickle: a protocol
header (PROTO 2 to 5), or a protocol 0/1 GLOBAL line followed by a call. Each candidate is
tried on a small window first (random bytes fail within a few opcodes); those that still look
like a pickle are walked in full like any other pickle.
"""

import io
import pickletools
import re
import warnings

from . import pickle
from .blob import Blob
from .context import Context
from .pickle_policy import judge
from .result import Severity

_HEADER = re.compile(rb"\x80[\x02-\x05]")
_GLOBAL_LINE = re.compile(rb"c[A-Za-z_][\w.]{0,255}\n[A-Za-z_][\w.]{0,255}\n")
_GLOBAL_LINE_MAX = 514  # the longest match of _GLOBAL_LINE
_CHUNK = 1 << 20
_WINDOW = 4096
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                      "SHORT_BINSTRING", "BINSTRING", "STRING", "GET", "BINGET", "LONG_BINGET"})
_CALLS = frozenset({"REDUCE", "BUILD", "OBJ", "NEWOBJ", "NEWOBJ_EX", "INST"})


def sweep(blob: Blob, location: str, context: Context, *, text: bool) -> bool:
    """Reports the pickles found after byte 0 and returns whether there was any. Text
    content is only searched for protocol headers: protocol 0 lines are what text is made of."""
    patterns = [_HEADER] if text else [_HEADER, _GLOBAL_LINE]
    found = False
    # Read front to back (a compressed member cannot seek back cheaply): each piece is searched
    # together with the bytes carried over from the one before, where candidates may start.
    carry, carry_start = b"", 0
    position = 0
    while position < blob.size:
        data = blob.read_at(position, _CHUNK)
        if not data:
            break
        position += len(data)
        buffer, base = carry + data, carry_start
        # Candidates need a window after them, except at the end.
        last = len(buffer) if position >= blob.size else max(0, len(buffer) - _WINDOW)
        starts = sorted({
            match.start()
            for pattern in patterns
            for match in pattern.finditer(buffer, 0, last + _GLOBAL_LINE_MAX)
            if match.start() < last and base + match.start() > 0  # byte 0 was tried already
        })
        # genops warns about odd string escapes in whatever bytes it is shown (see pickle).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            plausible = [s for s in starts if _plausible(buffer[s : s + _WINDOW])]
        for start in plausible:
            if not blob.random_access:
                # Scanning from an offset seeks back: inflate the member once, to a spooled
                # copy, which the rest of the sweep reads too.
                blob = blob.with_random_access(context.resources)
            found |= _scan_at(blob, base + start, location, context)
        carry, carry_start = buffer[last:], base + last
    return found


def _scan_at(blob: Blob, offset: int, location: str, context: Context) -> bool:
    remainder = blob.slice(offset, blob.size - offset)
    if not pickle.scan(remainder, location, context, claim=pickle.Claim.HIDDEN, offset=offset):
        return False
    context.add(
        Severity.MEDIUM,
        "pickle.embedded",
        "a pickle that imports code starts here, inside content of no known format",
        f"{location}@offset {offset}",
    )
    return True


def _plausible(window: bytes) -> bool:
    """Whether a window parses as the start of a pickle that imports something (and, for
    protocol 0 lines, which text may resemble, calls it or imports a dangerous global), or
    runs to the window's end still parsing."""
    needs_call = window[:1] == b"c"
    stream = io.BytesIO(window)
    imported = called = False
    pushed: list[str] = []  # the opcodes before, memo writes left out
    try:
        for opcode, argument, _position in pickletools.genops(stream):
            imported |= _imports(opcode.name, pushed)
            called |= imported and opcode.name in _CALLS
            if imported and (called or not needs_call or _dangerous(opcode.name, argument)):
                return True
            if opcode.name not in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                pushed = [*pushed[-1:], opcode.name]
    except ValueError:
        return not needs_call and stream.tell() >= len(window)  # cut by the window
    return False


def _imports(name: str, pushed: list[str]) -> bool:
    """An import as a pickle writes one. Random bytes after a protocol header often reach a
    one-byte STACK_GLOBAL or EXT before they stop parsing; a real STACK_GLOBAL follows the
    two strings it imports by, and an extension code is only worth a look when called."""
    if name == "STACK_GLOBAL":
        return len(pushed) == 2 and all(op in _STRINGS for op in pushed)
    return name in ("GLOBAL", "INST")


def _dangerous(name: str, argument: object) -> bool:
    if name not in ("GLOBAL", "INST"):
        return False
    module, _, attribute = str(argument).partition(" ")
    return judge(module, attribute) is Severity.CRITICAL
