"""Interrupting ``crashsig bisect`` (SIGINT, SIGTERM) during a build, a VM run or anywhere:
no VM or build process is left, no git worktree, no bisect state in the repository, a log
whose last line says where it stopped, and a rerun that resumes from the journal.

The fast tests run the real command in a subprocess with the real builder (a fake build
script) and the real VM runner, whose boots are replaced by ``sleep`` processes standing
in for QEMU (``FakeVms`` below); the last two tests do the same with real QEMU.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crashsig import bisectlog
from crashsig.bisect import sim
from crashsig.bisect.build import Build
from crashsig.bisect.interrupt import Interrupted, interruptible
from crashsig.bisect.journal import Journal, load_journal
from crashsig.bisect.kernel import fetch_debian_kernel
from crashsig.bisect.runner import run_parallel
from crashsig.bisect.verdict import Run

REPO_ROOT = Path(__file__).resolve().parent.parent
CULPRIT = 11

CHILD = f"""
import os, shlex, signal, subprocess, sys, threading
from pathlib import Path
from crashsig import cli
from crashsig.bisect.build import CommandBuilder
from crashsig.bisect.runner import VmRunner
from crashsig.bisect.verdict import Run
from crashsig.commands import bisect_cmd

MARKS = Path(os.environ["FAKE_MARKS"])
SLOW_RUN = int(os.environ.get("FAKE_SLOW_RUN", "0"))
LOCK = threading.Lock()


class FakeVms(VmRunner):
    # Each boot is a 'sleep' process in a session of its own, like QEMU; outcomes by rule:
    # from commit 4 on every third run hits a flaky crash first (the first run too), and
    # from commit {CULPRIT} on the other runs crash with the target.
    def _initramfs(self, build, rundir):
        return rundir / "unused"

    def _boot(self, kernel, initramfs, console_log, cancel):
        commit, number = int(kernel.read_text().split()[-1]), int(console_log.stem)
        console_log.write_text("fake console\\n")
        with LOCK:
            index = len(list(MARKS.glob("vm-*"))) + 1
            (MARKS / f"vm-{{index}}").write_text(f"{{commit}} {{number}}\\n")
        vm = subprocess.Popen(["sleep", "600"], start_new_session=True)
        try:
            if cancel.wait(600 if index == SLOW_RUN else 0.05):
                return Run("infra error", reason="run cancelled")
        finally:
            os.killpg(vm.pid, signal.SIGKILL)
            vm.wait()
        if commit >= 4 and number % 3 == 0:
            return Run("crashed", "{sim.FLAKY_TITLE}", signature="flaky", duration=0.05)
        if commit >= {CULPRIT}:
            return Run("crashed", "{sim.TARGET_TITLE}", signature="target", duration=0.05, report="kernel BUG\\n")
        return Run("ok", reason="reproducer exited with status 0, no crash", duration=0.05)


def make_runner(args, workdir):
    builder = CommandBuilder(args.repo.resolve(), workdir, command=shlex.split(args.build_cmd), image=args.image)
    return FakeVms(builder, reproducer=args.repro.resolve(), workdir=workdir, jobs=args.jobs), builder


bisect_cmd.make_runner = make_runner
sys.exit(cli.main(sys.argv[1:]))
"""

BUILD_SH = """#!/bin/sh
# A stand-in kernel build: marks itself, sleeps when it is the slow one, writes an "image".
n=$(($(ls "$FAKE_MARKS" | grep -c '^build-') + 1))
echo "$CRASHSIG_COMMIT" > "$FAKE_MARKS/build-$n"
if [ "$n" = "${FAKE_SLOW_BUILD:-0}" ]; then sleep 600; fi
mkdir -p arch/x86/boot
echo "image $(cat state)" > arch/x86/boot/bzImage
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _processes_with(token: str) -> list[int]:
    """Live processes whose environment carries ``token`` (everything the child started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def _wait_until(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def assert_nothing_left(repo: Path, workdir: Path, token: str) -> None:
    """No process, no worktree, no bisect state."""
    assert _wait_until(lambda: not _processes_with(token), 5), _processes_with(token)
    assert _git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert _git(repo, "worktree", "prune", "--dry-run", "--verbose") == ""
    assert _git(repo, "for-each-ref", "refs/bisect") == ""
    assert not list((repo / ".git").glob("BISECT_*"))
    assert not (workdir / "bisect").exists() and not (workdir / "src").exists()


@pytest.fixture
def token() -> Iterator[str]:
    """Put in the environment of everything a test starts; whatever is left is killed after it."""
    value = uuid.uuid4().hex
    yield value
    for pid in _processes_with(value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def setup(tmp_path: Path, token: str) -> tuple[Path, list[str], Path, Path, dict[str, str]]:
    repo = tmp_path / "repo"
    commits = sim.make_repo(repo, 16)
    (tmp_path / "build.sh").write_text(BUILD_SH)
    (tmp_path / "repro.sh").write_text("#!/bin/sh\n")
    (tmp_path / "child.py").write_text(CHILD)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "FAKE_MARKS": str(marks), "FAKE_TOKEN": token}
    return repo, commits, tmp_path / "work", marks, env


def _argv(tmp_path: Path, repo: Path, commits: list[str], workdir: Path) -> list[str]:
    return [
        sys.executable, str(tmp_path / "child.py"), "bisect", "--repo", str(repo), "--build-cmd",
        f"sh {tmp_path / 'build.sh'}", "--repro", str(tmp_path / "repro.sh"), "--good", commits[0],
        "--bad", commits[-1], "--jobs", "2", "--workdir", str(workdir),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("signum", "slow", "mark", "doing"),
    [
        (signal.SIGINT, {"FAKE_SLOW_RUN": "24"}, "vm-24", "while running "),  # in bisection, twice
        (signal.SIGTERM, {"FAKE_SLOW_BUILD": "4"}, "build-4", "while building "),  # second bisect step
        (signal.SIGTERM, {}, "vm-7", ""),  # wherever it lands, 0.3 s after the 7th run started
    ],
    ids=["sigint-twice-during-vm", "sigterm-during-build", "sigterm-anywhere"],
)
def test_interrupted_bisection_cleans_up_and_resumes(
    setup: tuple[Path, list[str], Path, Path, dict[str, str]],
    tmp_path: Path,
    signum: int,
    slow: dict[str, str],
    mark: str,
    doing: str,
) -> None:
    repo, commits, workdir, marks, env = setup
    argv = _argv(tmp_path, repo, commits, workdir)
    with subprocess.Popen(argv, env={**env, **slow}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert _wait_until(lambda: (marks / mark).exists(), 120), "the bisection never got there"
            time.sleep(0.3)
            proc.send_signal(signum)
            if signum == signal.SIGINT:
                time.sleep(0.05)  # a second Ctrl-C while it cleans up changes nothing
                proc.send_signal(signum)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert f"interrupted by {name}" in err and "run the same command again to resume" in err
    assert_nothing_left(repo, workdir, env["FAKE_TOKEN"])
    last_line = (workdir / "bisect.log").read_text().rstrip("\n").splitlines()[-1]
    assert last_line.startswith(f"error: interrupted by {name} {doing}"), last_line
    assert "runs in" in last_line
    stopped = bisectlog.read((workdir / "bisect.log").read_bytes())
    assert stopped.error == last_line.removeprefix("error: ") and not stopped.culprit
    assert json.loads((workdir / "result.json").read_text())["interrupted"] == stopped.error
    journal = next(workdir.glob("journal-*.jsonl"))
    recorded = sum(len(runs) for runs in load_journal(journal).values())
    assert recorded > 0

    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"culprit: {commits[CULPRIT]}" in resumed.stdout
    assert f"resuming: replaying {recorded} runs" in resumed.stderr
    assert f"({recorded} replayed from the journal)" in resumed.stdout
    assert not journal.exists()
    assert_nothing_left(repo, workdir, env["FAKE_TOKEN"])
    final = bisectlog.read((workdir / "bisect.log").read_bytes())
    assert not final.error and final.culprit == commits[CULPRIT]
    # The rerun walked the same steps up to the interruption: the stopped log is a prefix.
    steps = [(rev.commit, rev.verdict, rev.runs) for rev in stopped.revisions]
    assert steps == [(rev.commit, rev.verdict, rev.runs) for rev in final.revisions][: len(steps)]


def test_restart_ignores_the_journal(setup: tuple[Path, list[str], Path, Path, dict[str, str]], tmp_path: Path) -> None:
    repo, commits, workdir, marks, env = setup
    argv = _argv(tmp_path, repo, commits, workdir)
    with subprocess.Popen(argv, env={**env, "FAKE_SLOW_RUN": "5"}, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert _wait_until(lambda: (marks / "vm-5").exists(), 120)
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130
    fresh = subprocess.run([*argv, "--restart"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert fresh.returncode == 0, fresh.stderr
    assert "resuming" not in fresh.stderr and "replayed" not in fresh.stdout


def test_run_parallel_cancels_the_other_boots_when_one_fails() -> None:
    cancelled: list[str] = []

    def boot(item: str, cancel: threading.Event) -> Run:
        if item == "broken":
            time.sleep(0.1)
            raise ValueError("bad image")
        if cancel.wait(30):
            cancelled.append(item)
        return Run("ok")

    start = time.monotonic()
    with pytest.raises(ValueError, match="bad image"):
        run_parallel(boot, ["a", "broken", "b"], jobs=3)
    assert sorted(cancelled) == ["a", "b"]
    assert time.monotonic() - start < 5


class _Counting:
    def __init__(self) -> None:
        self.made = 0

    def build(self, commit: str) -> Build:
        return Build(commit, f"sig-{commit}", "gcc")

    def run(self, build: Build, count: int) -> list[Run]:
        runs = [Run("ok", reason=f"run {self.made + i}") for i in range(count)]
        self.made += count
        return runs


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    """Put SIGINT and SIGTERM back as they were after the test."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _deliver(signum: int) -> None:
    """Send ``signum`` to this process and let its Python handler run."""
    os.kill(os.getpid(), signum)
    time.sleep(0.05)


def test_interruptible_raises_once_then_ignores_even_after_the_context(signal_handlers: None) -> None:
    with pytest.raises(Interrupted) as stop:
        with interruptible():
            _deliver(signal.SIGTERM)
            pytest.fail("SIGTERM did not interrupt")
    assert (stop.value.name, stop.value.status) == ("SIGTERM", 143)
    _deliver(signal.SIGINT)  # the command is exiting: a late Ctrl-C must not kill it
    _deliver(signal.SIGTERM)


def test_interruptible_restores_the_handlers_when_not_interrupted(signal_handlers: None) -> None:
    before = signal.getsignal(signal.SIGINT)
    with interruptible():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        _deliver(signal.SIGINT)


def test_journal_replays_recorded_runs_in_order(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = _Counting()
    journal = Journal(first, path)
    build = journal.build("c1")
    made = journal.run(build, 2) + journal.run(build, 1)
    assert first.made == 3
    with path.open("a") as stream:
        stream.write('{"signature": "sig-c1", "run": {"outcome": "ok", "tit')  # cut short by a kill
    again = _Counting()
    resumed = Journal(again, path)
    assert resumed.size == 3
    assert resumed.run(build, 2) == made[:2] and again.made == 0
    assert resumed.run(build, 2) == [made[2], Run("ok", reason="run 0")] and again.made == 1
    assert resumed.replayed == 3 and resumed.size == 4


def test_journal_does_not_record_infra_errors(tmp_path: Path) -> None:
    class Broken(_Counting):
        def run(self, build: Build, count: int) -> list[Run]:
            return [Run("infra error", reason="QEMU died")] * count

    journal = Journal(Broken(), tmp_path / "journal.jsonl")
    assert journal.run(journal.build("c1"), 2)[0].outcome == "infra error"
    assert journal.size == 0 and not (tmp_path / "journal.jsonl").exists()


# -- real QEMU ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bzimage() -> Path:
    return fetch_debian_kernel(headers=False).bzimage


def _cmdline(pid: int) -> bytes:
    """A process's command line; empty once it has exited (it may exit while we look)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _qemu_with(token: str) -> list[int]:
    return [pid for pid in _processes_with(token) if b"qemu-system" in _cmdline(pid)]


def _booted(console: Path) -> bool:
    return console.exists() and b"crashsig-init: booted" in console.read_bytes()


def test_sigterm_during_real_vm_runs_leaves_no_qemu(bzimage: Path, tmp_path: Path, token: str) -> None:
    """Two real QEMU VMs (--jobs 2) hang in the reproducer at the bad end; SIGTERM stops all."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    for n in range(2):
        (repo / "file").write_text(f"{n}\n")
        _git(repo, "add", "file")
        _git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", f"c{n}")
    good, bad = _git(repo, "rev-list", "--reverse", "HEAD").split()
    (tmp_path / "build.sh").write_text('mkdir -p arch/x86/boot && cp "$KERNEL_IMAGE" arch/x86/boot/bzImage\n')
    (tmp_path / "repro.sh").write_text("#!/bin/sh\nsleep 600\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "KERNEL_IMAGE": str(bzimage), "TEST_TOKEN": token}
    workdir = tmp_path / "work"
    argv = [
        sys.executable, "-m", "crashsig", "bisect", "--repo", str(repo), "--build-cmd", f"sh {tmp_path / 'build.sh'}",
        "--repro", str(tmp_path / "repro.sh"), "--good", good, "--bad", bad, "--jobs", "2", "--workdir", str(workdir),
    ]  # fmt: skip
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert _wait_until(lambda: len(_qemu_with(token)) == 2, 60), "two VMs never ran"
            consoles = [workdir / "runs" / bad / f"{n}.log" for n in range(2)]
            assert _wait_until(lambda: all(_booted(console) for console in consoles), 60), "the VMs never booted"
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 143, err
    assert_nothing_left(repo, workdir, token)
    last_line = (workdir / "bisect.log").read_text().rstrip("\n").splitlines()[-1]
    assert last_line.startswith(f"error: interrupted by SIGTERM while running {bad[:12]} (bad end), after 0 runs")


def test_ctrl_c_during_crashsig_boot_says_so_in_the_console_log(bzimage: Path, tmp_path: Path, token: str) -> None:
    (tmp_path / "repro.sh").write_text("#!/bin/sh\nsleep 600\n")
    console = tmp_path / "console.log"
    argv = [sys.executable, "-m", "crashsig", "boot", "--kernel", str(bzimage), "--repro", str(tmp_path / "repro.sh"),
            "--console-log", str(console)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "TEST_TOKEN": token}
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert _wait_until(lambda: _booted(console), 60), "the VM never booted"
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert "crashsig: error: interrupted by SIGINT after" in err
    assert console.read_text().splitlines()[-1].startswith("crashsig: interrupted by SIGINT after")
    assert _wait_until(lambda: not _processes_with(token), 5), _processes_with(token)
