"""crashsig.bisect boot half: real QEMU, Debian's real cloud kernel, a real crash module.

The kernel and headers come from ``apt-get download`` (cached under ~/.cache/crashsig);
``tests/qemu_data/crashmod`` is built against them once per module (a few seconds). A boot
takes about 2 to 4 s under TCG.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from qemu_data.crashmod_build import build_crashmod

from crashsig import cli
from crashsig.bisect.initramfs import build_initramfs
from crashsig.bisect.kernel import DebianKernel, fetch_debian_kernel
from crashsig.bisect.qemu import boot, find_qemu
from crashsig.errors import InfraError, InputError

TRIGGER = "/sys/kernel/debug/crashmod/trigger"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kernel() -> DebianKernel:
    return fetch_debian_kernel()


@pytest.fixture(scope="module")
def crashmod(kernel: DebianKernel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert kernel.headers_dir is not None
    return build_crashmod(kernel.headers_dir, tmp_path_factory.mktemp("crashmod"))


def _initramfs(tmp_path: Path, script: str, modules: list[Path] | None = None) -> Path:
    repro = tmp_path / "repro.sh"
    repro.write_text(script)
    return build_initramfs(
        tmp_path / "initramfs.gz", reproducer=repro, modules=modules or []
    )


def _qemu_processes(token: str) -> list[int]:
    """PIDs of live QEMU processes whose command line carries ``token``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"qemu-system" in cmdline and token.encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def _wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_debian_kernel_is_unpacked_and_cached(kernel: DebianKernel) -> None:
    assert (
        kernel.bzimage.read_bytes()[0x202:0x206] == b"HdrS"
    )  # the x86 boot protocol magic
    assert kernel.release == f"{kernel.abi}-cloud-amd64"
    assert (kernel.modules_dir / "modules.order").is_file()
    assert (
        kernel.headers_dir is not None
        and (kernel.headers_dir / "Module.symvers").is_file()
    )
    started = time.monotonic()
    assert fetch_debian_kernel(abi=kernel.abi) == kernel  # cached: no apt at all
    assert time.monotonic() - started < 1.0


def test_without_apt_the_newest_cached_kernel_is_used(
    kernel: DebianKernel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-cache, no apt-get
    assert fetch_debian_kernel(headers=False).bzimage == kernel.bzimage
    with pytest.raises(InfraError, match="holds no kernel: run 'apt-get update'"):
        fetch_debian_kernel(tmp_path / "empty-cache", headers=False)


def test_trivial_reproducer_boots_ok(kernel: DebianKernel, tmp_path: Path) -> None:
    initramfs = _initramfs(tmp_path, "echo hello from the guest\nexit 3\n")
    log = tmp_path / "console.log"
    result = boot(kernel.bzimage, initramfs, console_log=log)
    assert result.outcome == "ok", result.reason
    assert result.reason == "reproducer exited with status 3, no crash"
    assert result.title is None and result.report is None
    assert b"hello from the guest\n" in result.console
    assert b"\r\n" not in result.console
    assert log.read_bytes() == result.console
    assert result.accel in ("kvm", "tcg")


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("bug", "kernel BUG in crashmod_bug"),
        (
            "null_deref",
            "BUG: unable to handle kernel NULL pointer dereference in crashmod_null_deref",
        ),
        ("warning", "WARNING in crashmod_warning"),
        ("gpf", "general protection fault in crashmod_gpf"),
        ("list_corruption", "BUG: corrupted list in crashmod_list_corruption"),
    ],
)
def test_crash_module_crashes_with_title(
    kernel: DebianKernel, crashmod: Path, tmp_path: Path, kind: str, title: str
) -> None:
    initramfs = _initramfs(
        tmp_path, f"echo {kind} > {TRIGGER}\necho not reached\n", [crashmod]
    )
    result = boot(kernel.bzimage, initramfs, test_timeout=60)
    assert result.outcome == "crashed", result.reason
    assert result.title == title
    assert result.report is not None and result.report.title == title
    assert "QEMU exited" in result.reason  # panic=-1 + -no-reboot ended the VM at once
    assert b"crashsig-init: done" not in result.console


def test_crash_without_panic_is_caught_live(
    kernel: DebianKernel, tmp_path: Path
) -> None:
    """A crash line that does not stop the guest: QEMU is stopped crash_grace s later."""
    script = "echo 'BUG: crashsig live test' > /dev/kmsg\nsleep 600\n"
    result = boot(
        kernel.bzimage, _initramfs(tmp_path, script), test_timeout=120, crash_grace=1.0
    )
    assert result.outcome == "crashed", result.reason
    assert result.title == "BUG: crashsig live test"
    assert "crash deadline" in result.reason
    assert result.duration < 60


def test_hanging_guest_times_out_without_leftovers(
    kernel: DebianKernel, tmp_path: Path
) -> None:
    token = f"crashsig_test={uuid.uuid4().hex}"
    initramfs = _initramfs(tmp_path, "sleep 600\n")
    result = boot(kernel.bzimage, initramfs, test_timeout=2, cmdline_extra=[token])
    assert result.outcome == "timed out"
    assert "did not finish within 2 s (test timeout)" in result.reason
    assert b"crashsig-init: booted" in result.console
    assert _qemu_processes(token) == []


def test_total_timeout_during_boot_is_boot_failed(
    kernel: DebianKernel, tmp_path: Path
) -> None:
    result = boot(kernel.bzimage, _initramfs(tmp_path, "true\n"), boot_timeout=0.3)
    assert result.outcome == "boot failed"
    assert result.reason == "the kernel did not run /init within 0.3 s"


_RUNNER = """
import sys
from pathlib import Path
from crashsig.bisect.qemu import boot
try:
    boot(Path(sys.argv[1]), Path(sys.argv[2]), cmdline_extra=[sys.argv[3]], test_timeout=600)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize(
    ("signum", "status"),
    [
        (signal.SIGTERM, 128 + signal.SIGTERM),
        (signal.SIGINT, 130),
        (signal.SIGKILL, -signal.SIGKILL),
    ],
)
def test_killed_runner_leaves_no_qemu(
    kernel: DebianKernel, tmp_path: Path, signum: int, status: int
) -> None:
    """SIGTERM and Ctrl-C run boot()'s cleanup; SIGKILL relies on QEMU's parent-death signal."""
    token = f"crashsig_test={uuid.uuid4().hex}"
    initramfs = _initramfs(tmp_path, "sleep 600\n")
    runner = tmp_path / "runner.py"
    runner.write_text(_RUNNER)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    argv = [sys.executable, str(runner), str(kernel.bzimage), str(initramfs), token]
    with subprocess.Popen(argv, env=env, stderr=subprocess.PIPE) as proc:
        try:
            assert _wait_until(lambda: _qemu_processes(token), 30), "QEMU never started"
            time.sleep(0.5)
            proc.send_signal(signum)
            assert proc.wait(timeout=30) == status, (
                proc.stderr.read() if proc.stderr else ""
            )
        finally:
            proc.kill()
    assert _wait_until(lambda: not _qemu_processes(token), 5), _qemu_processes(token)


def test_garbage_kernel_is_an_infra_error(tmp_path: Path) -> None:
    garbage = tmp_path / "bzImage"
    garbage.write_bytes(os.urandom(1 << 20))
    initramfs = build_initramfs(tmp_path / "i.gz")
    result = boot(garbage, initramfs, accel="tcg")
    assert result.outcome == "infra error"
    assert (
        result.reason
        == f"{garbage}: not a kernel image (no x86 boot 'HdrS' header, not ELF)"
    )


def test_image_qemu_rejects_is_an_infra_error(tmp_path: Path) -> None:
    """A boot header QEMU refuses: its own error message becomes the reason."""
    image = bytearray(1 << 16)
    image[0x202:0x208] = b"HdrS\x00\x01"  # boot protocol 1.00: too old for an initrd
    old = tmp_path / "bzImage"
    old.write_bytes(image)
    result = boot(old, build_initramfs(tmp_path / "i.gz"), accel="tcg")
    assert result.outcome == "infra error"
    assert result.reason.startswith(
        "QEMU exited with status 1 before any console output: "
    )
    assert "kernel too old" in result.reason


def test_missing_qemu_is_an_infra_error(kernel: DebianKernel, tmp_path: Path) -> None:
    result = boot(
        kernel.bzimage,
        build_initramfs(tmp_path / "i.gz"),
        qemu=str(tmp_path / "no-qemu"),
    )
    assert result.outcome == "infra error"
    assert "QEMU not found" in result.reason
    assert result.console == b""
    with pytest.raises(InfraError, match="QEMU not found"):
        find_qemu(str(tmp_path / "no-qemu"))


def test_missing_kernel_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="kernel is not a readable file"):
        boot(tmp_path / "nope", build_initramfs(tmp_path / "i.gz"))


def test_module_that_does_not_load_is_boot_failed(
    kernel: DebianKernel, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.ko"
    bad.write_bytes(b"\x7fELF" + bytes(200))
    result = boot(kernel.bzimage, _initramfs(tmp_path, "echo unreachable\n", [bad]))
    assert result.outcome == "boot failed"
    assert result.reason.startswith("insmod bad.ko failed with status ")
    assert b"unreachable" not in result.console


def test_cli_boot_json_reports_the_crash(
    kernel: DebianKernel,
    crashmod: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repro = tmp_path / "repro.sh"
    repro.write_text(f"echo bug > {TRIGGER}\n")
    log = tmp_path / "console.log"
    argv = [
        "boot",
        "--kernel",
        "debian",
        "--module",
        str(crashmod),
        "--repro",
        str(repro),
    ]
    status = cli.main([*argv, "--console-log", str(log), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1
    assert out["outcome"] == "crashed"
    assert out["title"] == "kernel BUG in crashmod_bug"
    assert out["report"]["title"] == out["title"]
    assert b"kernel BUG at " in log.read_bytes()


def test_cli_boot_text_and_exit_statuses(
    kernel: DebianKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    initramfs = _initramfs(tmp_path, "true\n")
    assert (
        cli.main(
            ["boot", "--kernel", str(kernel.bzimage), "--initramfs", str(initramfs)]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith(
        "ok\n  reason:   reproducer exited with status 0"
    )
    argv = [
        "boot",
        "--kernel",
        str(kernel.bzimage),
        "--initramfs",
        str(initramfs),
        "--qemu",
        "no-qemu",
    ]
    assert cli.main(argv) == 2
    assert capsys.readouterr().out.startswith("infra error\n")
    argv = [
        "boot",
        "--kernel",
        str(tmp_path / "missing"),
        "--initramfs",
        str(initramfs),
    ]
    assert cli.main(argv) == 2
    assert "kernel is not a readable file" in capsys.readouterr().err
    argv = [
        "boot",
        "--kernel",
        str(kernel.bzimage),
        "--initramfs",
        str(initramfs),
        "--boot-timeout",
        "0.2",
    ]
    assert cli.main(argv) == 3
    assert capsys.readouterr().out.startswith("boot failed\n")
