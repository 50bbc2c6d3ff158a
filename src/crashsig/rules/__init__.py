"""Declarative knowledge about Linux oopses: headers, title formats, skip lists.

Most of the data here (oops header strings, title regexes and formats, the generic
frame skip list, syscall prefixes, stall anchor frames, guilty-file ignore patterns,
title normalization rules and the title-to-type table) is compatibility data taken
from syzkaller's ``pkg/report`` (https://github.com/google/syzkaller, Apache-2.0,
Copyright syzkaller project authors), so that crashsig produces the same titles as
syzbot. The engine that interprets it (``crashsig.parse``, ``crashsig.title``,
``crashsig.frames``) is crashsig's own.

Template syntax: ``{1}``, ``{2}``... are the capture groups of the report regex (or of
the title regex when a format has no report regex), in order, followed by one frame per
stack segment; the same numbering as syzkaller's ``%[N]v``.
"""

from crashsig.rules.model import Format, Oops, Stack
from crashsig.rules.oopses import LINUX_OOPSES

__all__ = ["LINUX_OOPSES", "Format", "Oops", "Stack"]
