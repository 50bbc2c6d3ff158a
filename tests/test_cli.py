"""The ``crashsig`` command line: parse, test-corpus, errors and exit codes."""

from __future__ import annotations

import gzip
import json
import lzma
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SYZKALLER_CORPUS

from crashsig.cli import main

EXAMPLE = REPO / "examples" / "seed-gpf.log"


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "crashsig", *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def test_parse_example_text() -> None:
    result = run_cli("parse", str(EXAMPLE))
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "title:    general protection fault in start_creating" in out
    assert "guilty:   fs/debugfs/inode.c" in out


def test_parse_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "--format", "json", "--first", str(EXAMPLE)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1
    (log,) = document["logs"]
    (report,) = log["reports"]
    assert report["title"] == "general protection fault in start_creating"
    assert report["alt_titles"] == ["bad-access in start_creating"]
    assert report["frames"][0]["function"] == "__lock_acquire"


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (lzma.open, ".xz")])
def test_parse_compressed(tmp_path: Path, opener: object, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"log{suffix}"
    with opener(path, "wb") as stream:  # type: ignore[operator]
        stream.write(EXAMPLE.read_bytes())
    assert main(["parse", "--fail-on-crash", str(path)]) == 1
    assert "start_creating" in capsys.readouterr().out


def test_parse_stdin_and_no_crash() -> None:
    result = run_cli("parse", "--fail-on-crash", "-", stdin=b"just a boot log\n")
    assert result.returncode == 0
    assert b"no crash found" in result.stdout


def test_title_style_option() -> None:
    log = b"kernel BUG at fs/ext4/inode.c:42!\nRIP: 0010:ext4_foo+0x1/0x2\nCall Trace:\n ext4_bar+0x1/0x2\n"
    result = run_cli("parse", "--title-style", "2020", stdin=log)
    assert b"kernel BUG at fs/ext4/inode.c:LINE!" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["parse", "/nonexistent/log"], "No such file"),
        (["parse", "/"], "Is a directory"),
        (["parse", "--format", "xml"], "invalid choice"),
        (["no-such-command"], "invalid choice"),
    ],
)
def test_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("crashsig: error:") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_test_corpus_on_project_corpus(tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    case = b"TITLE: general protection fault in start_creating\nALT: bad-access in start_creating\nTYPE: DoS\n\n"
    (tmp_path / "report" / "1").write_bytes(case + EXAMPLE.read_bytes())
    (tmp_path / "report" / "2").write_bytes(b"TITLE: wrong title\n\n" + EXAMPLE.read_bytes())
    result = run_cli("test-corpus", str(tmp_path))
    out = result.stdout.decode()
    assert result.returncode == 1
    assert "FAIL report/2" in out and "expected 'wrong title'" in out
    assert out.strip().endswith("1 passed, 1 failed")


def test_test_corpus_on_syzkaller_dev_split() -> None:
    result = run_cli("test-corpus", "--quiet", str(SYZKALLER_CORPUS))
    passed, failed = (int(w) for w in result.stdout.split()[::2][:2])
    assert passed + failed == 532
    assert passed / (passed + failed) >= 0.99


def test_follow_on_reports_are_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = REPO / "tests" / "corpus" / "qemu" / "kernel-bug.txt"
    path = tmp_path / "console.log"
    path.write_bytes(case.read_bytes().split(b"\n\n", 1)[1])
    assert main(["parse", str(path)]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    assert "kernel BUG in crashmod_bug" in blocks[0] and "follows:" not in blocks[0]
    assert all("follows:  report 1" in block for block in blocks[1:])


def test_parse_reads_pipes() -> None:
    script = f"{sys.executable} -m crashsig parse <(cat {EXAMPLE})"
    result = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert b"general protection fault in start_creating" in result.stdout


def test_entry_point_returns_the_status_and_freezes_the_heap_for_exit() -> None:
    """``crashsig`` and ``python -m crashsig`` return main()'s status, with the heap frozen
    (the interpreter's last garbage collection then has nothing to walk)."""
    code = ("import gc, sys\nfrom crashsig.cli import entry_point\n"
            f"sys.argv = ['crashsig', 'parse', {str(EXAMPLE)!r}]\n"
            "status = entry_point()\nprint(status, gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.splitlines()[-1] == "0 True"
    assert run_cli("parse", "/nonexistent.log").returncode == 2  # errors keep their status
