"""Checks of member paths, links and special files (zip and tar members, ONNX data files)."""

import posixpath
import re
import stat

from .context import Context
from .result import Severity

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escapes(path: str) -> bool:
    """Whether a path meant to be relative to a folder (a member's, an ONNX external data
    file's) points outside it."""
    normal = path.replace("\\", "/")
    return _is_absolute(normal) or ".." in normal.split("/")


def _is_absolute(normal: str) -> bool:
    return normal.startswith("/") or bool(_DRIVE.match(normal))


def check_path(name: str, location: str, context: Context) -> None:
    """Flags member paths that would be written outside the extraction folder."""
    normal = name.replace("\\", "/")
    if _is_absolute(normal):
        context.add(Severity.HIGH, "archive.path_traversal", f"absolute path {name!r}", location)
    elif ".." in normal.split("/"):
        context.add(
            Severity.HIGH, "archive.path_traversal", f"path {name!r} climbs out with ..", location
        )
    if "\\" in name:
        context.add(
            Severity.MEDIUM,
            "archive.suspicious_path",
            f"path {name!r} uses backslashes, which Windows tools treat as separators",
            location,
        )
    if _CONTROL.search(name):
        context.add(
            Severity.MEDIUM,
            "archive.suspicious_path",
            f"path {name!r} contains control characters",
            location,
        )


def _link_escapes(member: str, target: str, *, hard: bool = False) -> bool:
    """Whether a link stored at `member` points outside the extraction folder.

    Symlink targets are relative to the link's folder; hard link targets to the archive root.
    """
    target = target.replace("\\", "/")
    if _is_absolute(target):
        return True
    base = "" if hard else posixpath.dirname(member.replace("\\", "/"))
    resolved = posixpath.normpath(posixpath.join(base, target))
    return resolved == ".." or resolved.startswith("../")


def check_link(member: str, target: str, location: str, context: Context, *, hard: bool) -> None:
    kind = "hard link" if hard else "symlink"
    if _link_escapes(member, target, hard=hard):
        context.add(
            Severity.HIGH,
            "archive.link_escape",
            f"{kind} {member!r} points outside the archive, to {target!r}",
            location,
        )
    else:
        context.add(
            Severity.LOW, "archive.link", f"{kind} {member!r} points to {target!r}", location
        )


def check_through_links(name: str, links: set[str], location: str, context: Context) -> None:
    """Flags a member written through an earlier symlink of the same archive: extracting it
    writes wherever the link points (the classic "symlink to /etc, then etc/cron.d/x")."""
    parts = posixpath.normpath(name.replace("\\", "/")).split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if folder in links:
            context.add(
                Severity.HIGH,
                "archive.write_through_link",
                f"{name!r} is written through the symlink {folder!r}",
                location,
            )
            return


def check_special_file(name: str, mode: int, location: str, context: Context) -> None:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        context.add(
            Severity.HIGH,
            "archive.special_file",
            f"{name!r} is a device, FIFO or socket entry",
            location,
        )
