"""Parser behaviour on the seed log, syzkaller's invariants, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SYZKALLER_CORPUS

import crashsig
from crashsig import corpus
from crashsig.parse import parse_from


def test_seed_first_report_is_the_flaky_gpf(seed_log: bytes) -> None:
    report = crashsig.parse(seed_log)[0]
    assert report.title == "general protection fault in start_creating"
    assert report.alt_titles == ("bad-access in start_creating",)
    assert report.type == "DoS"
    assert report.guilty_file is not None and report.guilty_file.startswith("fs/debugfs/")
    assert seed_log[report.start :].startswith(b"general protection fault, probably for non-canonical")


def test_seed_frames_carry_symbolized_locations(seed_log: bytes) -> None:
    frames = crashsig.parse(seed_log)[0].frames
    by_name = {f.function: f for f in frames}
    assert by_name["__lock_acquire"].file == "kernel/locking/lockdep.c"
    assert by_name["__lock_acquire"].line == 4214
    assert by_name["start_creating"].offset == 0x7F and by_name["start_creating"].size == 0x1F0
    assert (by_name["start_creating"].file, by_name["start_creating"].line) == ("fs/debugfs/inode.c", 334)
    inline = by_name["inode_lock"]
    assert inline.inline and (inline.file, inline.line) == ("include/linux/fs.h", 797)
    assert not by_name["start_creating"].inline
    # The user-space RIP and the repeated RIP after "end trace" are not frames.
    assert [f.function for f in frames].count("__lock_acquire") == 1


def test_bisection_summary_lines_do_not_start_reports(seed_log: bytes) -> None:
    titles = [r.title for r in crashsig.parse(seed_log)]
    assert "kernel BUG in corrupted" not in titles
    assert crashsig.contains_crash(seed_log)


def test_title_style_2020_keeps_kernel_bug_at_file_line() -> None:
    log = (
        b"[  100.000000] kernel BUG at arch/x86/kvm/mmu/mmu.c:3774!\n"
        b"[  100.000001] invalid opcode: 0000 [#1] PREEMPT SMP KASAN\n"
        b"[  100.000002] RIP: 0010:kvm_mmu_page_fault+0x1f/0x80\n"
        b"[  100.000003] Call Trace:\n"
        b"[  100.000004]  kvm_arch_vcpu_ioctl_run+0x10/0x20\n"
        b"[  100.000005]  kvm_vcpu_ioctl+0x10/0x20\n"
        b"[  100.000006]  do_syscall_64+0x10/0x20\n"
    )
    assert crashsig.parse(log, title_style="2020")[0].title == "kernel BUG at arch/x86/kvm/mmu/mmu.c:LINE!"
    current = crashsig.parse(log)[0]
    assert current.title == "kernel BUG in kvm_mmu_page_fault"
    assert current.type == "BUG"


def test_unknown_title_style_is_an_input_error() -> None:
    with pytest.raises(crashsig.InputError):
        crashsig.parse(b"", title_style="1999")


def _report_paths() -> list[Path]:
    return sorted(p for p in (SYZKALLER_CORPUS / "report").iterdir() if p.name.isdigit())


@pytest.mark.parametrize("path", _report_paths()[::7], ids=lambda p: p.name)
def test_parse_from_start_and_end_invariants(path: Path) -> None:
    """syzkaller's invariants: reparsing from start finds the same report; from end not."""
    case = corpus.load_report_case(path)
    report = parse_from(case.log)
    if report is None:
        return
    assert 0 <= report.start < report.end <= len(case.log)
    again = parse_from(case.log, report.start)
    assert again is not None and (again.title, again.start) == (report.title, report.start)
    after = parse_from(case.log, report.end)
    assert after is None or after.title != report.title or after.start != report.start


def test_parse_returns_every_report_in_order() -> None:
    log = (
        b"[    1.0] WARNING: CPU: 0 PID: 1 at net/core/dev.c:1 foo_bar+0x1/0x2\n"
        b"[    1.1] RIP: 0010:foo_bar+0x1/0x2\n"
        b"[    1.2] Call Trace:\n"
        b"[    1.3]  baz_qux+0x1/0x2\n"
        b"[    2.0] BUG: unable to handle page fault for address: 0000000000001234\n"
        b"[    2.1] RIP: 0010:second_func+0x1/0x2\n"
        b"[    2.2] Call Trace:\n"
        b"[    2.3]  caller_func+0x1/0x2\n"
    )
    titles = [r.title for r in crashsig.parse(log)]
    assert titles == ["WARNING in foo_bar", "BUG: unable to handle kernel paging request in second_func"]


@pytest.mark.parametrize(
    "log",
    [
        b"",
        b"\x00" * 1000,
        bytes(range(256)) * 100,
        b"\xff\xfe invalid utf-8 \xc3\x28 BUG: \xe2\x82\n",
        b"general protection fault",
        b"BUG: KASAN: use-after-free in",
        b"A" * 10_000_000 + b" WARNING: " + b"B" * 100 + b"\n",
    ],
    ids=["empty", "nuls", "binary", "invalid-utf8", "truncated-gpf", "truncated-kasan", "10MB-line"],
)
def test_bad_input_gives_a_result_not_a_traceback(log: bytes) -> None:
    reports = crashsig.parse(log)
    assert isinstance(reports, list)
    for report in reports:
        assert report.title
        assert report.start < report.end or report.end == len(log)


def test_str_input_is_accepted() -> None:
    log = "[ 1.0] BUG: soft lockup - CPU#0 stuck for 22s! [syz:1]\n[ 1.1] RIP: 0010:foo+0x1/0x2\n"
    assert crashsig.parse(log)[0].title.startswith("BUG: soft lockup in")
