"""Guilty file: the source file most likely at fault, from a symbolized report text."""

from __future__ import annotations

import posixpath
import re

from crashsig.rules.guilty import GUILTY_FILE_IGNORES, GUILTY_LINE_IGNORE, RCU_STALL_ENTRY_POINTS

# A source reference "path/file.c:123" is found from its ".c:1" end, then extended
# backwards over path characters: a regex starting with "[path chars]*" would retry at
# every position of a long word and take quadratic time.
_FILE_END_RE = re.compile(rb"\.[ch]:[0-9]")
_PATH_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./")
_NAME_CHARS = _PATH_CHARS - frozenset(b"./")
_IGNORED_FILE_RES = tuple(re.compile(p.encode()) for p in GUILTY_FILE_IGNORES)
_IGNORED_LINE_RE = re.compile(GUILTY_LINE_IGNORE.encode())
# A slash and at least one more directory level before the .c/.h file.
_DEEPER_PATH_RE = re.compile(rb"^/[a-zA-Z0-9_\-\./]+/[a-zA-Z0-9_\-]+\.(c|h)$")


def _clean(path: str) -> str:
    """Collapse ``..`` and ``.`` like Go's ``filepath.Clean``."""
    return posixpath.normpath(path) if path else "."


def _find_file(line: bytes) -> bytes | None:
    """The first ``path.c`` / ``path.h`` followed by ``:LINE`` in a line."""
    for match in _FILE_END_RE.finditer(line):
        dot = match.start()
        if dot == 0 or line[dot - 1] not in _NAME_CHARS:
            continue
        start = dot - 1
        while start > 0 and line[start - 1] in _PATH_CHARS:
            start -= 1
        return line[start : dot + 2]
    return None


def _ignored(file: bytes, line: bytes) -> bool:
    return any(r.match(file) for r in _IGNORED_FILE_RES) or _IGNORED_LINE_RE.search(line) is not None


def _scan(text: bytes) -> str:
    lines = text.split(b"\n")
    guilty = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        file = _find_file(line)
        if file is None:
            continue
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
        file = _find_file(line)
        if file is None or _ignored(file, line):
            continue
        clean = _clean(file.decode("latin-1"))
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
