"""Parsing time grows linearly with the input, even on adversarial near-miss lines.

Each case builds an input at size n and 4n and compares CPU times (best of three):
linear work gives a ratio near 4, quadratic work near 16. The assertion is on the
ratio, not on wall-clock time, so a slow or busy machine does not make it flaky.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import crashsig

LINE_100K = 100_000


def _near_miss_warning(n: int) -> bytes:
    # Many " at " and "path.c" fragments but never the full "at file.c:N func+0x" shape.
    chunk = b"WARNING: x at fs/a.a.a.a.a.c at a.b.c.d at "
    return b"[    1.000000] WARNING: " + chunk * (n * LINE_100K // len(chunk)) + b"\n"


def _near_miss_kasan(n: int) -> bytes:
    # KASAN headers whose "Read of size" never comes, each line 100 KB long.
    line = b"[    1.000000][  T100] BUG: KASAN: use-after-free in foo+0x1/0x2 Read Write "
    return b"".join(line + b"x" * LINE_100K + b"\n" for _ in range(n))


def _many_headers(n: int) -> bytes:
    return b"".join(b"[    1.%06d][  T100] BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 Read\n" % i for i in range(n * 200))


def _long_path_words(n: int) -> bytes:
    # A symbolized-looking report whose file-name candidates are one giant word.
    word = b"a/b_c-d." * (n * LINE_100K // 8)
    return b"BUG: unable to handle page fault for address: 1\nRIP: 0010:f+0x1/0x2 " + word + b"\nCall Trace:\n g+0x1/0x2\n"


def _cpu_time(build: Callable[[int], bytes], n: int) -> float:
    log = build(n)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        crashsig.parse(log)
        crashsig.contains_crash(log)
        best = min(best, time.process_time() - start)
    return max(best, 1e-4)


@pytest.mark.parametrize(
    "build", [_near_miss_warning, _near_miss_kasan, _many_headers, _long_path_words], ids=lambda f: f.__name__[1:]
)
def test_parse_time_scales_linearly(build: Callable[[int], bytes]) -> None:
    small, large = _cpu_time(build, 2), _cpu_time(build, 8)
    assert large / small < 8, f"4x input took {large / small:.1f}x time ({small:.3f}s -> {large:.3f}s)"
