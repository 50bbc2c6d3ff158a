"""Throughput of ``crashsig parse`` on a large console log, against ``grep -c -E``.

Builds a log of --size-mb megabytes (default 1024): ordinary boot and console lines with
oopses from the syzkaller corpus (or the bundled example) sprinkled sparsely, then times,
in the same run and on the same file:

* ``crashsig parse --format json FILE`` (a new process, streaming), and
* ``grep -c -E 'HEADER|HEADER|...' FILE`` over the same oops header strings.

Prints MB/s, peak RSS of each process and the ratio. Targets: >= 100 MB/s, <= 100 MB RSS.

    python benchmarks/parse_throughput.py [--size-mb 1024] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "syzkaller" / "report"
_WORDS = (
    b"usb 1-1: new high-speed USB device number 2 using ehci-pci",
    b"audit: type=1400 audit(1700000000.123:42): avc:  denied  { read } for pid=1234 comm=\"syz\"",
    b"EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
    b"systemd[1]: Started Journal Service.",
    b"netdevsim netdevsim0 netdevsim1: set [1, 0] type 2 family 0 port 6081 - 0",
    b"IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready",
    b"random: crng init done",
    b"device veth1_macvtap entered promiscuous mode",
)


def _oopses() -> list[bytes]:
    logs = []
    if CORPUS.is_dir():
        for path in sorted(CORPUS.iterdir())[:200]:
            data = path.read_bytes().replace(b"\r", b"")
            head, _, log = data.partition(b"\n\n")
            if b"TITLE: " in head and b"REPORT:" not in log:
                logs.append(log)
    return logs or [(REPO / "examples" / "seed-gpf.log").read_bytes()]


def build_log(path: Path, size: int, seed: int = 1) -> int:
    """Write ``size`` bytes of console output with sparse oopses; return the oops count."""
    rng = random.Random(seed)
    oopses = _oopses()
    block = b"".join(b"[%6d.%06d] %s\n" % (i, i * 7 % 1000000, rng.choice(_WORDS)) for i in range(20000))
    written = count = 0
    with open(path, "wb") as out:
        while written < size:
            out.write(block)
            written += len(block)
            if rng.random() < 0.05:
                oops = rng.choice(oopses)
                out.write(oops)
                written += len(oops)
                count += 1
    return count


def _timed(argv: list[str]) -> tuple[float, int, bytes]:
    """Wall time, peak RSS (MB) and stdout of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, timeout=3600, check=False)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed, max(peak, before) // 1024, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from crashsig.rules import LINUX_OOPSES

    with tempfile.TemporaryDirectory() as tmp:
        log = args.keep or Path(tmp) / "big.log"
        oopses = build_log(log, args.size_mb << 20)
        size_mb = log.stat().st_size / 1e6
        print(f"log: {size_mb:.0f} MB with {oopses} oopses")
        headers = "|".join(re.escape(o.header.decode()) for o in LINUX_OOPSES)
        grep_time, grep_rss, grep_out = _timed(["grep", "-c", "-E", headers, str(log)])
        ours_time, ours_rss, ours_out = _timed([sys.executable, "-m", "crashsig", "parse", "--format", "json", str(log)])
        reports = len(json.loads(ours_out)["logs"][0]["reports"])
    print(f"grep -c -E : {grep_time:7.2f} s  {size_mb / grep_time:8.1f} MB/s  peak RSS {grep_rss:5d} MB"
          f"  ({int(grep_out)} matching lines)")
    print(f"crashsig   : {ours_time:7.2f} s  {size_mb / ours_time:8.1f} MB/s  peak RSS {ours_rss:5d} MB"
          f"  ({reports} reports)")
    print(f"ratio crashsig/grep time: {ours_time / grep_time:.2f}x   targets: >= 100 MB/s, <= 100 MB RSS")


if __name__ == "__main__":
    main()
