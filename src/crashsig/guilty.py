"""Guilty file: the source file most likely at fault, from a symbolized report text."""

from __future__ import annotations

import posixpath
import re

from crashsig.rules.guilty import GUILTY_FILE_IGNORES, GUILTY_LINE_IGNORE, RCU_STALL_ENTRY_POINTS

_FILENAME_RE = re.compile(rb"([a-zA-Z0-9_\-\./]*[a-zA-Z0-9_\-]+\.(c|h)):[0-9]+")
_IGNORED_FILE_RES = tuple(re.compile(p.encode()) for p in GUILTY_FILE_IGNORES)
_IGNORED_LINE_RE = re.compile(GUILTY_LINE_IGNORE.encode())
# A slash and at least one more directory level before the .c/.h file.
_DEEPER_PATH_RE = re.compile(rb"^/[a-zA-Z0-9_\-\./]+/[a-zA-Z0-9_\-]+\.(c|h)$")


def _clean(path: str) -> str:
    """Collapse ``..`` and ``.`` like Go's ``filepath.Clean``."""
    return posixpath.normpath(path) if path else "."


def _ignored(file: bytes, line: bytes) -> bool:
    return any(r.match(file) for r in _IGNORED_FILE_RES) or _IGNORED_LINE_RE.search(line) is not None


def _scan(text: bytes) -> str:
    lines = text.split(b"\n")
    guilty = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        match = _FILENAME_RE.search(line)
        if match is None:
            continue
        file = match.group(1)
        if not guilty:
            # Better a generic file than none: the report must reach somebody.
            guilty = file.decode("latin-1")
        if _ignored(file, line):
            continue
        guilty = _clean(file.decode("latin-1"))
        break
    # Files deeper below the guilty file's directory are more specific.
    deepest_dir = posixpath.dirname(guilty) or "."
    for line in lines[index:]:
        match = _FILENAME_RE.search(line)
        if match is None or _ignored(match.group(1), line):
            continue
        clean = _clean(match.group(1).decode("latin-1"))
        if clean.startswith(deepest_dir) and _DEEPER_PATH_RE.match(clean[len(deepest_dir) :].encode()):
            guilty = clean
            deepest_dir = posixpath.dirname(guilty) or "."
    return guilty


def extract_guilty_file(title: str, text: bytes) -> str:
    """Return the guilty source file of a report text (empty when it names none)."""
    if title.startswith("INFO: rcu detected stall"):
        for entry in RCU_STALL_ENTRY_POINTS:
            pos = text.find(entry.encode())
            if pos != -1 and (file := _scan(text[pos:])):
                return file
    return _scan(text)
