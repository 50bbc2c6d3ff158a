"""Title normalization rules, applied in order, each until the title stops changing.

Data from syzkaller ``pkg/report/report.go`` ``dynamicTitleReplacement`` (Apache-2.0).
"""

from __future__ import annotations

TITLE_REPLACEMENTS: tuple[tuple[str, str, str], ...] = (
    # (regex, replacement, why)
    (r"syz-executor\.?[0-9]+((/|:)[0-9]+)?", "syz-executor", "executor PIDs are not interesting"),
    (r"syzkaller[0-9]+((/|:)[0-9]+)?", "syzkaller", "executor process ids are dynamic"),
    (r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}", r"\1ADDR", "anything that looks like an address"),
    (r"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})", "IP", "IPv4 addresses"),
    (r"(\.\w+)(:[0-9]+)+", r"\1:LINE", "file.c:123 line numbers move between builds"),
    (r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+", r"\1", "offsets and sizes of func+0x1f/0x80"),
    (r"CPU#[0-9]+", "CPU", "CPU numbers"),
    (r"(\W)(\d+)(\W|$)", r"\1NUM\3", "decimal numbers; repeated because matches overlap (0,1,2)"),
    (r"(\d+){7,}", "NUM", "long digit runs; shorter ones may be part of names (cfg80211)"),
)

# Titles are cut to this many bytes before sanitizing (corrupted lines can be huge).
MAX_TITLE_LEN = 120
