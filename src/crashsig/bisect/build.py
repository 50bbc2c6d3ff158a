"""Build one revision in a worktree of its own: a kernel tree, an out-of-tree module, or a
user command. Each build gets its kernel signature; a failing build raises BuildError
(the bisection skips the revision) with the compiler's error tail.

Every builder checks revisions out into one fixed worktree path (``WORKDIR/src``), so
``__FILE__`` strings and other paths baked into the binary do not differ between
revisions: equal sources give equal signatures. Outputs are copied to
``WORKDIR/builds/COMMIT/``, and a finished build is reused from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from crashsig.bisect import git
from crashsig.errors import BuildError, InfraError
from crashsig.kernelsig import kernel_signature

BUILD_TIMEOUT = 3600.0
"""Seconds for one build step; a cold defconfig kernel build takes about 30 min on 2 cores."""

ERROR_TAIL_LINES = 20
"""Lines of compiler output kept when a build fails."""

REPRODUCIBLE_ENV = {
    "KBUILD_BUILD_USER": "crashsig",
    "KBUILD_BUILD_HOST": "crashsig",
    "KBUILD_BUILD_TIMESTAMP": "1970-01-01",
    "KBUILD_BUILD_VERSION": "1",
    "LC_ALL": "C",
    "LANG": "C",
}
"""Kbuild bakes user, host, time and build number into the kernel; fixing them keeps
the signature of an unchanged source tree unchanged. The kernel's Makefile unexports
LC_ALL, so LANG is set too: compiler messages stay ASCII in the error tail."""


@attrs.frozen
class Build:
    """One built revision."""

    commit: str
    """Full commit id."""
    signature: str
    """Kernel signature of the built binary (see ``crashsig.kernelsig``)."""
    compiler: str
    """First line of the compiler's ``--version``, as bisection logs print it."""
    kernel: Path | None = None
    """bzImage to boot, None when the runner boots a fixed kernel (module builds)."""
    modules: tuple[Path, ...] = ()
    """Kernel modules to load before the reproducer."""
    duration: float = 0.0
    """Seconds the build took (0 when reused from the cache)."""


class Builder:
    """Shared machinery of the builders: the worktree slot, the cache, running make with a timeout."""

    def __init__(self, repo: Path, workdir: Path, *, compiler: str = "gcc", keep_worktree: bool = False) -> None:
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.compiler_name = compiler
        self.keep_worktree = keep_worktree
        """Leave the worktree in place on :meth:`close` and reuse it the next time (a kernel
        tree is 80 000 files to check out and delete on every run otherwise)."""
        self._slot: Path | None = None

    def build(self, commit: str) -> Build:
        """Build ``commit`` (cached per commit and setup); BuildError when the revision does not build."""
        out = self.workdir / "builds" / self.setup_key() / commit
        cached = _load_cached(out, commit)
        if cached is not None:
            return cached
        src = self._checkout(commit)
        start = time.monotonic()
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        try:
            built = self._build(src, out, commit)
        except BuildError as exc:
            (out / "build-error.txt").write_text(str(exc))
            raise
        built = attrs.evolve(built, duration=time.monotonic() - start)
        _store(out, built)
        return built

    def setup_key(self) -> str:
        """Names the build setup in the cache: a different setup never reuses a build."""
        return hashlib.sha256(repr(self._setup()).encode()).hexdigest()[:16]

    def _setup(self) -> tuple[object, ...]:
        return (type(self).__name__, self.compiler_name)

    def close(self) -> None:
        """Remove the worktree slot unless it is kept (the build cache stays)."""
        if self._slot is not None:
            if not self.keep_worktree:
                git.remove_worktree(self.repo, self._slot)
            self._slot = None

    def _build(self, src: Path, out: Path, commit: str) -> Build:
        raise NotImplementedError

    def _checkout(self, commit: str) -> Path:
        slot = self.workdir / "src"
        if self._slot is None:
            self._slot = slot  # set first: close() removes what an interrupted add left
            if not (self.keep_worktree and git.is_worktree_of(self.repo, slot)):
                git.add_worktree(self.repo, slot, commit)  # replaces one left by a killed process
        git.checkout(slot, commit)
        return slot

    def _compiler(self) -> str:
        return compiler_version(self.compiler_name)

    def _make(self, argv: Sequence[str], cwd: Path, commit: str) -> None:
        env = {**os.environ, **REPRODUCIBLE_ENV}
        rc, output = run_logged(argv, cwd=cwd, env=env, timeout=BUILD_TIMEOUT)
        if rc != 0:
            raise BuildError(f"{commit[:12]}: {' '.join(argv[:2])} ... failed (exit {rc}):\n{error_tail(output)}")


class ModuleBuilder(Builder):
    """An out-of-tree module (``make -C HEADERS M=DIR modules``) against given kernel headers."""

    def __init__(
        self,
        repo: Path,
        workdir: Path,
        *,
        headers: Path,
        subdir: str = ".",
        compiler: str = "gcc",
        keep_worktree: bool = False,
    ) -> None:
        super().__init__(repo, workdir, compiler=compiler, keep_worktree=keep_worktree)
        self.headers = Path(headers)
        self.subdir = subdir

    def _setup(self) -> tuple[object, ...]:
        return (*super()._setup(), str(self.headers.resolve()), self.subdir)

    def _build(self, src: Path, out: Path, commit: str) -> Build:
        moddir = (src / self.subdir).resolve()
        jobs = str(os.cpu_count() or 1)
        self._make(["make", "-C", str(self.headers), f"M={moddir}", f"-j{jobs}", "modules"], src, commit)
        built = sorted(moddir.rglob("*.ko"))
        if not built:
            raise BuildError(f"{commit[:12]}: make succeeded but produced no .ko under {self.subdir}")
        modules = tuple(_keep(path, out) for path in built)
        return Build(commit, _modules_signature(modules), self._compiler(), modules=modules)


class KernelBuilder(Builder):
    """A kernel tree: the given config, ``olddefconfig``, then ``bzImage`` (with ccache when present)."""

    def __init__(
        self, repo: Path, workdir: Path, *, config: Path, compiler: str = "gcc", keep_worktree: bool = False
    ) -> None:
        super().__init__(repo, workdir, compiler=compiler, keep_worktree=keep_worktree)
        self.config = Path(config)

    def _setup(self) -> tuple[object, ...]:
        return (*super()._setup(), self.config.read_bytes())

    def _build(self, src: Path, out: Path, commit: str) -> Build:
        objdir = self.workdir / "obj"
        objdir.mkdir(parents=True, exist_ok=True)
        _copy_if_changed(self.config, objdir / ".config")
        cc = f"ccache {self.compiler_name}" if shutil.which("ccache") else self.compiler_name
        base = ["make", f"O={objdir}", f"CC={cc}", f"HOSTCC={self.compiler_name}"]
        self._make([*base, "olddefconfig"], src, commit)
        self._make([*base, f"-j{os.cpu_count() or 1}", "bzImage"], src, commit)
        kernel = _keep(objdir / "arch/x86/boot/bzImage", out)
        return Build(commit, kernel_signature(objdir / "vmlinux"), self._compiler(), kernel=kernel)


class CommandBuilder(Builder):
    """A user command run in the worktree; it must leave a bzImage at ``image`` (relative).

    The signature comes from ``vmlinux`` (relative) when the command leaves one, else it
    is the sha256 of the image. The command sees ``CRASHSIG_COMMIT`` in its environment.
    """

    def __init__(
        self,
        repo: Path,
        workdir: Path,
        *,
        command: Sequence[str],
        image: str,
        vmlinux: str = "vmlinux",
        keep_worktree: bool = False,
    ) -> None:
        super().__init__(repo, workdir, keep_worktree=keep_worktree)
        self.command = list(command)
        self.image = image
        self.vmlinux = vmlinux

    def _setup(self) -> tuple[object, ...]:
        return (*super()._setup(), self.command, self.image, self.vmlinux)

    def _build(self, src: Path, out: Path, commit: str) -> Build:
        env = {**os.environ, **REPRODUCIBLE_ENV, "CRASHSIG_COMMIT": commit}
        rc, output = run_logged(self.command, cwd=src, env=env, timeout=BUILD_TIMEOUT)
        if rc != 0:
            raise BuildError(f"{commit[:12]}: build command failed (exit {rc}):\n{error_tail(output)}")
        image = src / self.image
        if not image.is_file():
            raise BuildError(f"{commit[:12]}: build command left no kernel image at {self.image}")
        vmlinux = src / self.vmlinux
        signature = kernel_signature(vmlinux) if vmlinux.is_file() else file_sha256(image)
        return Build(commit, signature, self._compiler(), kernel=_keep(image, out))


def run_logged(argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``argv`` in its own process group; return (exit status, combined output).

    The group is killed on timeout and on any exception, so no compiler outlives us.
    A missing program is an InfraError; a timeout counts as a failed build (status -1).
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise InfraError(f"cannot run {argv[0]!r}: not installed") from exc
    try:
        output, _ = proc.communicate(timeout=timeout)
        return proc.returncode, output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        output, _ = proc.communicate()
        return -1, output.decode(errors="replace") + f"\n(timed out after {timeout:.0f} s)"
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def error_tail(output: str, lines: int = ERROR_TAIL_LINES) -> str:
    """The last lines of a build log, starting at the first ``error:`` line if it is near."""
    all_lines = output.rstrip().splitlines()
    tail = all_lines[-lines:]
    first_error = next((i for i, line in enumerate(all_lines) if "error" in line.lower()), None)
    if first_error is not None and first_error >= len(all_lines) - 4 * lines:
        tail = all_lines[first_error : first_error + lines]
    return "\n".join(tail)


def compiler_version(compiler: str = "gcc") -> str:
    """``gcc (Debian 12.2.0-14) 12.2.0``: the first line of ``COMPILER --version``."""
    try:
        proc = subprocess.run([compiler, "--version"], check=False, capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise InfraError(f"cannot run {compiler} --version") from exc
    return proc.stdout.splitlines()[0].strip() if proc.stdout else compiler


def _keep(path: Path, out: Path) -> Path:
    dest = out / path.name
    shutil.copy2(path, dest)
    return dest


def _copy_if_changed(src: Path, dest: Path) -> None:
    """Copy unless equal: an untouched ``.config`` keeps its mtime and make stays incremental."""
    if not dest.exists() or dest.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dest)


def _modules_signature(modules: tuple[Path, ...]) -> str:
    """One module: its kernel signature. Several: sha256 over their signatures, by name."""
    signatures = [kernel_signature(path) for path in modules]
    if len(signatures) == 1:
        return signatures[0]
    return hashlib.sha256("".join(signatures).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's contents, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _store(out: Path, built: Build) -> None:
    record = {
        "commit": built.commit,
        "signature": built.signature,
        "compiler": built.compiler,
        "kernel": built.kernel.name if built.kernel else None,
        "modules": [path.name for path in built.modules],
    }
    (out / "build.json").write_text(json.dumps(record, indent=1) + "\n")


def _load_cached(out: Path, commit: str) -> Build | None:
    """The stored build of ``commit``; raises its BuildError again when it failed before."""
    error = out / "build-error.txt"
    if error.is_file():
        raise BuildError(error.read_text())
    try:
        record = json.loads((out / "build.json").read_text())
    except (OSError, ValueError):
        return None
    if record.get("commit") != commit:
        return None
    kernel = out / record["kernel"] if record.get("kernel") else None
    modules = tuple(out / name for name in record.get("modules", ()))
    if any(not path.is_file() for path in (*modules, *([kernel] if kernel else []))):
        return None
    return Build(commit, record["signature"], record["compiler"], kernel=kernel, modules=modules)
