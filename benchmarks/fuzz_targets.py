"""What the fuzzer feeds each input to, inside a worker process.

``check_log`` runs a console log through ``parse`` (both title styles, bytes and str),
``contains_crash``, signatures, ``Symbolizer.annotate``/``symbolize``, ``bisectlog.read``
and the CLI (``crashsig parse``, ``crashsig bisect-log``, text and JSON); the job options
choose the costlier variants (title style 2020 and str input, CLI, CLI on a .gz/.xz copy
that may have a flipped bit) for a share of inputs. ``check_elf``
runs an ELF file through ``kernel_signature`` and ``Symbolizer`` (every address of every
function of the pristine seed, symbol lookups, annotate, and the on-disk index, which
some jobs corrupt between building and using it), and for a share of inputs through
``crashsig signature --kernel`` and ``crashsig symbolize`` (log and ``--addr`` modes). A
``CrashsigError`` is an allowed answer; any other exception, a traceback on stderr, an
unexpected exit status or a broken invariant is a problem.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import lzma
import os
import random
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from fuzz_elfs import mutate_index
from fuzz_pool import Result, Target

import crashsig
from crashsig import bisectlog, cli
from crashsig.errors import CrashsigError
from crashsig.symbolize import Symbolizer
from crashsig.types import Report

MODULE = "fzmod"


class _Checker:
    """Runs calls, counting crashsig errors and recording everything else as a problem."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.errors = 0
        self._seen: set[tuple[str, str]] = set()
        self.context: list[str] = []
        """What was done to the input inside the worker (named in every problem)."""

    def call(self, what: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except CrashsigError:
            self.errors += 1
        except Exception as exc:  # noqa: BLE001  # the finding itself
            key = (what.split()[0], type(exc).__name__)
            if key not in self._seen:  # one traceback per API and exception type
                self._seen.add(key)
                self.problems.append(f"{what}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-6)}")
        return None

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def result(self) -> Result:
        context = "".join(f"[{c}] " for c in self.context)
        return Result(tuple(context + p for p in self.problems), self.errors)


class Workspace:
    """Per-worker state: a scratch directory and the symbolizer used on logs."""

    dir: Path
    symbolizer: Symbolizer | None = None

    @classmethod
    def setup(cls, vmlinux: str, module: str, scratch: Path) -> None:
        """Create this worker's dir under ``scratch`` and open the log symbolizer (once per worker)."""
        logging.disable(logging.CRITICAL)  # index-build warnings would flood the terminal
        cls.dir = Path(tempfile.mkdtemp(prefix="worker-", dir=scratch))
        cls.symbolizer = Symbolizer(vmlinux, modules={MODULE: module}, use_cache=False)


@contextlib.contextmanager
def _captured_stdio() -> Iterator[io.StringIO]:
    """stdout as a pipe would be (UTF-8, strict), stderr captured."""
    out = io.TextIOWrapper(open(os.devnull, "wb"), encoding="utf-8", errors="strict")  # noqa: SIM115
    err = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield err
    finally:
        sys.stdout, sys.stderr = saved
        with contextlib.suppress(Exception):
            out.close()


def _run_cli(check: _Checker, argv: list[str], statuses: tuple[int, ...]) -> None:
    """Run ``crashsig ARGV`` in-process; exit status 2 with a one-line message is an allowed error."""
    with _captured_stdio() as err:
        status = check.call(f"crashsig {' '.join(argv)}", lambda: cli.main(argv))
    check.expect(status is None or status in statuses, f"crashsig {argv[0]}: exit status {status}, expected {statuses}")
    check.expect(
        "Traceback" not in err.getvalue(), f"crashsig {argv[0]}: traceback on stderr:\n{err.getvalue()[-2000:]}"
    )
    if status == 2 and argv[0] != "bisect-log":  # bisect-log says 2 for "not a bisection log"
        check.errors += 1


def _compressed(path: Path, log: bytes, rng: random.Random, kind: str) -> Path:
    """``log`` as a ``.gz`` or ``.xz`` file, with one flipped bit when ``kind`` ends in ``-flip``."""
    suffix = kind.split("-")[0]
    data = bytearray(gzip.compress(log) if suffix == "gz" else lzma.compress(log))
    if kind.endswith("-flip"):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    target = path.with_suffix("." + suffix)
    target.write_bytes(data)
    return target


def _check_reports(check: _Checker, log: bytes) -> None:
    """Parse once; check the reports' invariants, signatures and symbolization.

    The reports are dropped on return: 100 000 of them take ~400 MB, and the next parse
    must not hold two such lists at once.
    """
    reports: list[Report] = check.call("parse", lambda: crashsig.parse(log)) or []  # type: ignore[assignment]
    for report in reports:
        check.expect(isinstance(report.title, str) and bool(report.title), f"empty title: {report!r:.300}")
        check.expect(
            0 <= report.start <= report.end <= len(log),
            f"offsets {report.start}..{report.end} outside a {len(log)}-byte log ({report.title!r})",
        )
    for report in reports[:20]:
        check.call("signature", lambda r=report: (r.signature, crashsig.same_crash(r, reports[0])))
        if Workspace.symbolizer is not None:
            check.call("Symbolizer.symbolize", lambda r=report: Workspace.symbolizer.symbolize(r))


def check_log(log: bytes, options: dict[str, object]) -> Result:
    """Feed one console log to every log consumer."""
    check = _Checker()
    _check_reports(check, log)
    if options.get("variants"):
        check.call("parse 2020", lambda: crashsig.parse(log, title_style="2020"))
        check.call("parse str", lambda: crashsig.parse(log.decode("utf-8", "replace")))
    check.call("contains_crash", lambda: crashsig.contains_crash(log))
    if Workspace.symbolizer is not None:
        check.call("Symbolizer.annotate", lambda: Workspace.symbolizer.annotate(log))
    check.call("bisectlog.read", lambda: bisectlog.read(log))
    if options.get("cli"):
        path = Workspace.dir / "input.log"
        path.write_bytes(log)
        if options.get("compressed"):
            path = _compressed(path, log, random.Random(len(log)), str(options["compressed"]))
        json_args = ["--format", "json"] if options.get("json") else []
        _run_cli(check, ["parse", *json_args, str(path)], (0, 2))
        _run_cli(check, ["bisect-log", *json_args, str(path)], (0, 1, 2))
    return check.result()


def _lookups(check: _Checker, sym: Symbolizer, functions: list[tuple[str, int, int]], module: str | None) -> None:
    for name, address, size in functions:
        for addr in range(address, address + size):
            check.call(f"lookup {addr:#x}", lambda a=addr: sym.lookup(a, module=module))
        for offset in (0, size // 2, size - 1):
            check.call(
                f"lookup_symbol {name}+{offset:#x}",
                lambda n=name, o=offset, s=size: sym.lookup_symbol(n, o, module=module, size=s, return_address=True),
            )
        check.call(f"describe {address:#x}", lambda a=address: sym.describe(a, module))


def _symbolize_oops(check: _Checker, sym: Symbolizer, log: bytes) -> None:
    check.call("Symbolizer.annotate", lambda: sym.annotate(log))
    for report in check.call("parse", lambda: crashsig.parse(log)) or ():
        check.call("Symbolizer.symbolize", lambda r=report: sym.symbolize(r))


def _corrupt_indexes(check: _Checker, cache: Path | None, rng: random.Random) -> None:
    """Replace every index file in ``cache`` with a corrupted copy (findings name the corruption)."""
    for index in sorted(cache.glob("*.idx")) if cache else ():
        description, data = mutate_index(index.read_bytes(), rng)
        index.write_bytes(data)
        check.context.append(description)


def _elf_cli(
    check: _Checker, path: Path, log: bytes, functions: list[tuple[str, int, int]], rel: bool, host: str
) -> None:
    """``crashsig signature --kernel`` and ``crashsig symbolize`` (log and address modes) on the file."""
    _run_cli(check, ["signature", "--kernel", str(path)], (0, 2))
    log_path = path.with_suffix(".log")
    log_path.write_bytes(log)
    where = ["--vmlinux", host, "--modules", str(path.parent)] if rel else ["--vmlinux", str(path)]
    if rel:
        shutil.copyfile(path, path.parent / f"{MODULE}.ko")
    _run_cli(check, ["symbolize", *where, "--no-cache", "--format", "json", str(log_path)], (0, 2))
    addrs = [f"{address + size // 2:#x}" for _, address, size in functions]
    module = ["--module", MODULE] if rel else []
    _run_cli(check, ["symbolize", *where, "--no-cache", *module, "--addr", *addrs], (0, 2))


def check_elf(data: bytes, options: dict[str, object]) -> Result:
    """Feed one ELF file to ``kernel_signature`` and ``Symbolizer``."""
    check = _Checker()
    path = Workspace.dir / "input.elf"
    path.write_bytes(data)
    check.call("kernel_signature", lambda: crashsig.kernel_signature(path))
    functions: list[tuple[str, int, int]] = options["functions"]  # type: ignore[assignment]
    log: bytes = options["log"]  # type: ignore[assignment]
    if options.get("cli"):
        _elf_cli(check, path, log, functions, bool(options.get("relocatable")), str(options["host"]))
    cache = Path(tempfile.mkdtemp(dir=Workspace.dir)) if options.get("cache") else None
    rounds = 2 if cache else 1  # with a cache: build the index, then use it in a fresh Symbolizer
    try:
        for round_ in range(rounds):
            if round_ and options.get("corrupt_index") is not None:
                _corrupt_indexes(check, cache, random.Random(options["corrupt_index"]))
            if options.get("relocatable"):
                make = lambda: Symbolizer(
                    options["host"],
                    modules={MODULE: path},
                    cache_dir=cache,
                    use_cache=cache is not None,
                )
                module: str | None = MODULE
            else:
                make = lambda: Symbolizer(path, cache_dir=cache, use_cache=cache is not None)
                module = None
            sym = check.call("Symbolizer", make)
            if isinstance(sym, Symbolizer):
                _lookups(check, sym, functions, module)
                _symbolize_oops(check, sym, log)
                check.call("Symbolizer.close", sym.close)
    finally:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    return check.result()


TARGETS: dict[str, Target] = {"log": check_log, "elf": check_elf}
