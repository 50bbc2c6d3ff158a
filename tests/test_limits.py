"""Resource limits of the parser on inputs far larger than real logs.

* ``crashsig parse`` streams a 1 GB log made of 10 MB lines with oopses between them,
  finds every oops and keeps its peak RSS (measured by ``wait4`` on the child, grep
  prefilter included) under 300 MB: the file is mapped and scanned, never loaded whole.
* 100 000 oops headers in a row: the CPU time scales linearly against 25 000 headers
  (ratio near 4 for linear work, 16 for quadratic), so the assertion holds on a busy
  machine, unlike a wall-clock limit; and 16 000 against 2 000 for header kinds that
  do not start a new report (ratio near 8 for linear work, 64 for quadratic).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import crashsig

OOPS_FILE = Path(__file__).resolve().parent / "corpus" / "seed" / "gpf-start-creating-symbolized.txt"
TITLE = "general protection fault in start_creating"
LINE = 10 * 1024 * 1024
CHUNKS = 100  # 100 x (10 MB line + oops) ~ 1 GB
FILLERS = (b"x", b" f+0x1/0x2", b"\xff\xfe", b"Call Trace: ", b"[    1.000000] ", b"\0")
# Bounded: a fraction of the 1 GB file (1023 MB before fuzz finding F4). Measured 45-85 MB
# standalone, up to 167 MB inside a loaded pytest run; the sparse-oops 1 GB benchmark
# (benchmarks/parse_throughput.py) is what checks issue 3's 100 MB target.
RSS_LIMIT_MB = 300
TIMEOUT_S = 600


def _oops() -> bytes:
    return OOPS_FILE.read_bytes().partition(b"\n\n")[2]


def _write_big_log(path: Path) -> int:
    """CHUNKS times: one 10 MB line (cycling through FILLERS), then the seed oops."""
    lines = [(f * (LINE // len(f) + 1))[:LINE] + b"\n" for f in FILLERS]
    oops = _oops()
    with path.open("wb") as out:
        for i in range(CHUNKS):
            out.write(lines[i % len(lines)])
            out.write(oops)
    return CHUNKS


def _run_measured(argv: list[str], stdout: Path) -> tuple[int, int]:
    """Exit status and peak RSS (KiB) of a child, killed with its group after TIMEOUT_S."""
    with stdout.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, start_new_session=True)
    timer = threading.Timer(TIMEOUT_S, os.killpg, (proc.pid, signal.SIGKILL))
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        proc.returncode = 0  # reaped by wait4 above; keep Popen from waiting again
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    assert "Traceback" not in err, err
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss


def test_cli_parses_1gb_log_of_10mb_lines_in_bounded_memory(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    out = tmp_path / "out.json"
    try:
        expected = _write_big_log(log)
        assert log.stat().st_size >= 1_000_000_000
        status, peak_kib = _run_measured([sys.executable, "-m", "crashsig", "parse", "--format", "json", str(log)], out)
    finally:
        log.unlink(missing_ok=True)
    assert status == 0
    reports = json.loads(out.read_bytes())["logs"][0]["reports"]
    assert [r["title"] for r in reports] == [TITLE] * expected
    assert peak_kib < RSS_LIMIT_MB * 1024, f"peak RSS {peak_kib // 1024} MB"


def _headers(count: int) -> bytes:
    return b"".join(
        b"[%6d.%06d][  T100] BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 Read\n" % (i, i) for i in range(count)
    )


def _parse_cpu(log: bytes) -> tuple[float, int]:
    start = time.process_time()
    reports = crashsig.parse(log)
    return time.process_time() - start, len(reports)


def test_100k_oops_headers_in_a_row_scale_linearly() -> None:
    small, n_small = _parse_cpu(_headers(25_000))
    large, n_large = _parse_cpu(_headers(100_000))
    assert (n_small, n_large) == (25_000, 100_000)
    assert large / small < 8, f"4x the headers took {large / small:.1f}x the CPU time ({small:.1f} s -> {large:.1f} s)"




@pytest.mark.parametrize(
    "header",
    [
        b"BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 Read",
        b"PANIC: double fault",
        b"unregister_netdevice: waiting for",
        b"Internal error:",
    ],
    ids=lambda h: h.split(b":")[0].decode(),
)
def test_header_kinds_in_a_row_scale_linearly(header: bytes) -> None:
    """Headers that do not start a new report (so each report looks further ahead) stay linear."""
    line = b"[    1.000000][  T100] " + header + b" f+0x1/0x2\n"
    small, _ = _parse_cpu(line * 2_000)
    large, _ = _parse_cpu(line * 16_000)
    assert large / small < 12, f"8x the headers took {large / small:.1f}x the CPU time ({small:.2f} s -> {large:.2f} s)"
