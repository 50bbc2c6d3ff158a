"""KernelBuilder on a real kernel tree: Debian's ``linux-source-6.1`` committed as a base
revision plus three changes, built with ``tinyconfig`` + ``tiny/boot.config`` and booted
under QEMU.

What it shows: a comment-only change keeps the kernel signature (the build is
reproducible: Kbuild's user, host, time and version are fixed), a code change alters it,
the signature is that of the object directory's ``vmlinux``, a compile error is a
``BuildError`` carrying the compiler's message, a build after a failed one still works,
each built bzImage boots and runs its own revision's code, and the user's checkout and
worktree list are left as they were. About 4 to 5 minutes on 2 cores (unpack, commit, one
cold build, three incremental ones, two boots).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crashsig.bisect.build import Build, KernelBuilder
from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.qemu import boot
from crashsig.errors import BuildError
from crashsig.kernelsig import kernel_signature

sys.path.insert(0, str(Path(__file__).resolve().parent / "qemu_data"))

from kasan_build import make_config

TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")  # Debian package linux-source-6.1
BOOT_FRAGMENT = Path(__file__).resolve().parent / "qemu_data" / "tiny" / "boot.config"
MARKER = "crashsig-builder-test: this revision prints a marker"
ANCHOR = '\tpr_notice("Kernel command line: %s\\n", saved_command_line);\n'


def _git(repo: Path, *args: str) -> str:
    argv = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600).stdout.strip()


def _commit(repo: Path, message: str, path: str, edit: tuple[str, str]) -> str:
    """Commit ``path`` with its first ``edit[0]`` replaced by ``edit[1]``; return the commit id."""
    file = repo / path
    text = file.read_text()
    assert edit[0] in text, f"{path} has no {edit[0]!r}"
    file.write_text(text.replace(edit[0], edit[1], 1))
    _git(repo, "commit", "--quiet", "-a", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def kernel_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(repository, commit per name, config): the base tree and three changes on it."""
    root = tmp_path_factory.mktemp("kernel")
    repo = root / "linux"
    repo.mkdir()
    subprocess.run(["tar", "-xJf", str(TARBALL), "-C", str(repo), "--strip-components=1"], check=True, timeout=900)
    _git(repo, "init", "--quiet")
    _git(repo, "add", "-f", "-A")  # -f: Debian's top-level .gitignore ignores all but debian/
    _git(repo, "commit", "--quiet", "-m", "Linux 6.1 (Debian linux-source-6.1)")
    commits = {"base": _git(repo, "rev-parse", "HEAD")}
    end_of_file = "EXPORT_SYMBOL_GPL(init_uts_ns);\n"
    commits["comment"] = _commit(repo, "comment only", "init/version.c",
                                 (end_of_file, end_of_file + "/* A comment changes no code. */\n"))
    commits["broken"] = _commit(repo, "broken", "init/main.c", (ANCHOR, ANCHOR + "#error crashsig: broken on purpose\n"))
    _git(repo, "revert", "--no-edit", "HEAD")
    commits["marker"] = _commit(repo, "marker", "init/main.c", (ANCHOR, ANCHOR + f'\tpr_notice("{MARKER}\\n");\n'))
    config = make_config(repo, [BOOT_FRAGMENT], objdir=root / "config")
    return repo, commits, config


@pytest.fixture(scope="module")
def builds(kernel_tree: tuple[Path, dict[str, str], Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """Each revision built once by one KernelBuilder (the broken one as its error)."""
    repo, commits, config = kernel_tree
    work = tmp_path_factory.mktemp("work")
    builder = KernelBuilder(repo, work, config=config)
    built: dict[str, Build] = {}
    try:
        built["base"] = builder.build(commits["base"])
        built["comment"] = builder.build(commits["comment"])
        with pytest.raises(BuildError) as failure:
            builder.build(commits["broken"])
        built["marker"] = builder.build(commits["marker"])  # after a failed build in the same object directory
        built["again"] = builder.build(commits["base"])
        marker_vmlinux = kernel_signature(work / "obj" / "vmlinux")
    finally:
        builder.close()
    assert "init/main.c" in str(failure.value) and "error: #error crashsig: broken on purpose" in str(failure.value)
    assert built["marker"].signature == marker_vmlinux
    return built


def test_signature_follows_the_code_not_the_build(builds: dict[str, Build]) -> None:
    assert builds["base"].signature == builds["comment"].signature != builds["marker"].signature
    assert (builds["again"].signature, builds["again"].duration) == (builds["base"].signature, 0.0)
    assert builds["base"].compiler.startswith("gcc")


def test_user_checkout_and_worktrees_are_untouched(
    kernel_tree: tuple[Path, dict[str, str], Path], builds: dict[str, Build]
) -> None:
    repo, commits, _ = kernel_tree
    assert _git(repo, "rev-parse", "HEAD") == commits["marker"]
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "worktree", "list").count("\n") == 0


@pytest.mark.parametrize("name", ["base", "marker"])
def test_each_build_boots_its_own_revision(builds: dict[str, Build], name: str, tmp_path: Path) -> None:
    kernel = builds[name].kernel
    assert kernel is not None and kernel.is_file()
    result = boot(kernel, build_initramfs(tmp_path / "initramfs.cpio.gz"), test_timeout=60)
    assert result.outcome == "ok", (result.reason, result.console[-2000:])
    assert (MARKER.encode() in result.console) == (name == "marker")
