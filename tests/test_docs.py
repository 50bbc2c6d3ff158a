"""The documentation in docs/ stays true.

1. every ``crashsig.*`` name the docs mention (code spans, code blocks, ``from crashsig
   import ...``) exists; every public name is in docs/api.md, with its real signature;
2. every command and Python example of docs/quickstart.md runs from the repository root,
   in order, with the documented exit status and output; only blocks marked
   ``<!-- docs-test: manual (reason) -->`` are not run, and their ``crashsig`` options
   must still parse. Console examples of the other pages run too;
3. every relative link of docs/*.md points to an existing file (and heading);
4. docs/cli.md shows every subcommand's usage line and describes every option;
5. the field tables of docs/json.md match the JSON the commands print.
"""

from __future__ import annotations

import argparse
import doctest
import importlib
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import crashsig
from crashsig import bisectlog, kernelsig, signature, symbolize
from crashsig.cli import build_parser
from crashsig.types import Executor, Frame, Report

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC_FILES = sorted(DOCS.glob("*.md"))
QUICKSTART = DOCS / "quickstart.md"
SCRATCH = Path("/tmp/crashsig-demo")
"""Where the quickstart writes; removed before and after each test that uses it."""
COMMAND_TIMEOUT = 120
USAGE_COLUMNS = "100"
"""Terminal width the usage lines of docs/cli.md were generated with."""

_FENCE_RE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_MANUAL_RE = re.compile(r"<!-- docs-test: manual \((?P<why>[^)]+)\) -->\n$")
_EXIT_RE = re.compile(r"\s+#\s*exit status (\d+)\s*$")
_SPAN_RE = re.compile(r"`([^`\n]+)`")
_NAME_RE = re.compile(r"(?<![\w/.-])crashsig(?:\.[A-Za-z_]\w*)+")
_FROM_IMPORT_RE = re.compile(r"^\s*from (crashsig(?:\.\w+)*) import \(?([\w, ]+)\)?", re.MULTILINE)
_LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_HEADING_RE = re.compile(r"^#+ (.+)$", re.MULTILINE)


@attrs.frozen
class Block:
    """A fenced code block of a Markdown file."""

    lang: str
    text: str
    line: int
    manual: str
    """Why the block is not run, from its ``<!-- docs-test: manual (...) -->`` marker."""


def iter_blocks(text: str) -> Iterator[Block]:
    """Fenced blocks in document order."""
    for match in _FENCE_RE.finditer(text):
        marker = _MANUAL_RE.search(text, 0, match.start())
        manual = marker.group("why") if marker and marker.end() == match.start() else ""
        yield Block(match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1, manual)


def prose(text: str) -> str:
    """The text outside fenced blocks."""
    return _FENCE_RE.sub("", text)


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {heading}' section"
    return match.group(1)


# -- 1. names and the API reference ---------------------------------------------------------


def resolve(dotted: str) -> object:
    """The object a dotted ``crashsig...`` name refers to; raises if it does not exist.

    Attributes win over submodules (``crashsig.parse`` is the function); a name only
    reachable through a submodule (``crashsig.parse.iter_reports``) is imported.
    """
    parts = dotted.split(".")
    try:
        return _getattr_chain(importlib.import_module(parts[0]), parts[1:])
    except AttributeError:
        pass
    for cut in range(len(parts), 1, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        return _getattr_chain(module, parts[cut:])
    raise ImportError(dotted)


def _getattr_chain(obj: object, attributes: list[str]) -> object:
    for attribute in attributes:
        obj = getattr(obj, attribute)
    return obj


def mentioned_names(text: str) -> set[str]:
    """Dotted ``crashsig`` names in code spans and code blocks, and ``from crashsig`` imports."""
    code = [block.text for block in iter_blocks(text)] + _SPAN_RE.findall(prose(text))
    names = {name for chunk in code for name in _NAME_RE.findall(chunk)}
    for module, imported in _FROM_IMPORT_RE.findall(text):
        names.update(f"{module}.{name.strip()}" for name in imported.split(",") if name.strip())
    return names


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_every_mentioned_name_exists(path: Path) -> None:
    missing = []
    for name in sorted(mentioned_names(path.read_text())):
        try:
            resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"{path.name} mentions names that do not exist: {missing}"


def public_names() -> list[str]:
    """Every public name the API reference must cover."""
    modules = {"crashsig": crashsig, "crashsig.bisectlog": bisectlog, "crashsig.symbolize": symbolize,
               "crashsig.signature": signature, "crashsig.kernelsig": kernelsig}  # fmt: skip
    return [f"{prefix}.{name}" for prefix, module in modules.items() for name in module.__all__]


class _Raw(str):
    """An annotation string that prints without quotes."""

    def __repr__(self) -> str:
        return str(self)


def signature_text(obj: object) -> str:
    """``(a: int, *, b: str = 'x') -> T`` as api.md spells it: no ``self``, no quoted annotations."""
    sig = inspect.signature(obj)  # type: ignore[arg-type]
    params = [
        p.replace(annotation=_Raw(p.annotation) if isinstance(p.annotation, str) else p.annotation)
        for p in sig.parameters.values()
        if p.name != "self"
    ]
    text = str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))
    if not inspect.isclass(obj) and sig.return_annotation is not inspect.Signature.empty:
        text += f" -> {sig.return_annotation}"
    return text


def documented_signatures(text: str) -> dict[str, str]:
    """``name -> signature`` of every code span that spells out a signature."""
    found = {}
    for span in _SPAN_RE.findall(prose(text)):
        match = re.fullmatch(r"(crashsig[\w.]*)(\(.*\)(?: -> .+)?)", span)
        if match and (":" in match.group(2) or "->" in match.group(2)):
            found[match.group(1)] = match.group(2)
    return found


def test_api_reference_covers_every_public_name_with_its_signature() -> None:
    text = (DOCS / "api.md").read_text()
    documented = {id(resolve(name)) for name in mentioned_names(text)}
    for name in public_names():
        obj = resolve(name)
        same_object = callable(obj) and id(obj) in documented  # e.g. crashsig.signature.same_crash
        assert f"`{name}" in text or same_object, f"docs/api.md does not document {name}"
    signatures = documented_signatures(text)
    assert len(signatures) >= 30
    for name, documented_signature in signatures.items():
        assert documented_signature == signature_text(resolve(name)), f"docs/api.md: signature of {name}"


RECORDS: tuple[type, ...] = (
    Report, Frame, Executor, symbolize.Location, bisectlog.BisectLog, bisectlog.Revision, bisectlog.Run,
    bisectlog.Diagnostic, signature.SignatureInput, kernelsig.SectionDigest,
)  # fmt: skip


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.__name__)
def test_api_reference_lists_every_record_field(record: type) -> None:
    text = (DOCS / "api.md").read_text()
    for name in inspect.signature(record).parameters:  # the fields of an attrs class or named tuple
        assert f"`{name}`" in text, f"docs/api.md: field {record.__name__}.{name}"


# -- 2. the quickstart runs -------------------------------------------------------------------


@attrs.frozen
class Command:
    """One ``$ `` line of a console block, with its documented exit status and output."""

    line: str
    status: int
    output: tuple[str, ...]


def iter_commands(block: Block) -> Iterator[Command]:
    """The commands of a console block, each with the output lines that follow it."""
    command: str | None = None
    output: list[str] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield _command(command, output)
            command, output = line[2:], []
        else:
            output.append(line.rstrip())
    if command is not None:
        yield _command(command, output)


def _command(line: str, output: list[str]) -> Command:
    status = _EXIT_RE.search(line)
    return Command(_EXIT_RE.sub("", line), int(status.group(1)) if status else 0, tuple(output))


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """``...`` alone on a line matches any lines, ``...`` inside a line any text."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(output_matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in head.split("..."))
    return re.fullmatch(pattern, actual[0]) is not None and output_matches(rest, actual[1:])


def run_command(command: Command, env: dict[str, str], *, check_output: bool = True) -> None:
    argv = ["bash", "-c", command.line]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                          timeout=COMMAND_TIMEOUT, start_new_session=True)  # fmt: skip
    where = f"docs command {command.line!r}"
    assert proc.returncode == command.status, f"{where}: exit status {proc.returncode}\n{proc.stderr}"
    actual = [line.rstrip() for line in proc.stdout.splitlines()]
    assert not check_output or output_matches(list(command.output), actual), f"{where}: output\n" + "\n".join(actual)


def run_pycon(block: Block) -> None:
    test = doctest.DocTestParser().get_doctest(block.text, {}, f"quickstart.md:{block.line}", str(QUICKSTART), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def simple_commands(line: str) -> Iterator[list[str]]:
    """The argv of each simple command of a shell line (split at ``&&``, ``;``, ``|``)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    argv: list[str] = []
    for token in lexer:
        if token in ("&&", ";", "|", "||"):
            yield argv
            argv = []
        else:
            argv.append(token)
    yield argv


def check_manual(block: Block) -> None:
    """A manual block is not run: its crashsig options must parse, its ``python3 -c`` compile."""
    parser = build_parser()
    for command in iter_commands(block):
        for argv in simple_commands(command.line):
            if argv[:1] == ["crashsig"]:
                parser.parse_args(argv[1:])
            elif argv[:2] == ["python3", "-c"]:
                compile(argv[2], f"quickstart.md:{block.line}", "exec")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def scratch() -> Iterator[Path]:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    yield SCRATCH
    shutil.rmtree(SCRATCH, ignore_errors=True)


def test_quickstart_runs(scratch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
    ran = manual = 0
    for block in iter_blocks(QUICKSTART.read_text()):
        if block.manual:
            check_manual(block)
            manual += 1
        elif block.lang == "console":
            for command in iter_commands(block):
                run_command(command, env)
                ran += 1
        elif block.lang == "pycon":
            run_pycon(block)
            ran += 1
    assert ran >= 15 and manual >= 1


def build_demo(env: dict[str, str]) -> None:
    """Run the quickstart's set-up commands up to the demo program's log, which other pages use."""
    for block in iter_blocks(QUICKSTART.read_text()):
        if block.lang != "console" or block.manual:
            continue
        for command in iter_commands(block):
            if not command.line.startswith("crashsig"):
                run_command(command, env, check_output=False)
            if (SCRATCH / "oops.log").exists():
                return
    raise AssertionError("docs/quickstart.md no longer builds /tmp/crashsig-demo/oops.log")


@pytest.mark.parametrize("path", [p for p in DOC_FILES if p != QUICKSTART], ids=lambda p: p.name)
def test_console_examples_of_other_pages_run(path: Path, scratch: Path, tmp_path: Path) -> None:
    blocks = [b for b in iter_blocks(path.read_text()) if b.lang == "console" and not b.manual]
    env = _env(tmp_path)
    if any(str(SCRATCH) in b.text for b in blocks):
        build_demo(env)
    for block in blocks:
        for command in iter_commands(block):
            run_command(command, env)


# -- 3. links ----------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(heading) for heading in _HEADING_RE.findall(prose(path.read_text()))}


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in _LINK_RE.findall(prose(path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"


# -- 4. the CLI reference --------------------------------------------------------------------


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("command", sorted(subparsers()))
def test_cli_reference_covers_command(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", USAGE_COLUMNS)
    parser = subparsers()[command]
    body = section((DOCS / "cli.md").read_text(), f"`crashsig {command}`")
    usage = next(block.text for block in iter_blocks(body) if block.lang == "text")
    assert _squash(usage) == _squash(parser.format_usage()), f"docs/cli.md: usage of crashsig {command}"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        for option in action.option_strings or [str(action.metavar or action.dest)]:
            assert f"`{option}" in body, f"docs/cli.md: crashsig {command}: {option} is not described"
    assert "Exit status" in body, f"docs/cli.md: crashsig {command}: no exit statuses"


# -- 5. the JSON schemas ---------------------------------------------------------------------

JSON_COMMANDS = {
    "parse": [["parse", "--format", "json", "examples/seed-gpf.log"]],
    "symbolize": [
        ["symbolize", "--no-cache", "--vmlinux", f"{SCRATCH}/oops-demo", "--format", "json", f"{SCRATCH}/oops.log"],
        ["symbolize", "--no-cache", "--vmlinux", f"{SCRATCH}/oops-demo", "--format", "json", "--addr", "0x1", "0x0"],
    ],
    "bisect-log": [["bisect-log", "--format", "json", "tests/corpus/seed/syzbot-kvm-bisection.log"]],
}
"""Commands whose real output is checked; every section's examples are checked too."""

JSON_REFERENCES = {"boot": ("report", "parse", "logs[].reports[]")}
"""Objects a section documents by reference to another section's fields."""


def flatten(value: object, prefix: str, paths: set[str], open_paths: set[str]) -> None:
    """Every field path of a JSON value; ``open_paths`` are null values and empty lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            flatten(item, path, paths, open_paths)
    elif isinstance(value, list):
        if not value:
            open_paths.add(prefix + "[]")
        for item in value:
            flatten(item, prefix + "[]", paths, open_paths)
    elif value is None:
        open_paths.add(prefix)


def json_section(name: str) -> tuple[set[str], list[object]]:
    """Documented field paths and parsed examples of one section of json.md."""
    body = section((DOCS / "json.md").read_text(), name)
    fields = set(re.findall(r"^\| `([^`]+)` \|", prose(body), re.MULTILINE))
    if name in JSON_REFERENCES:
        prefix, other, other_prefix = JSON_REFERENCES[name]
        fields |= {prefix + f[len(other_prefix) :] for f in json_section(other)[0] if f.startswith(other_prefix)}
    return fields, [json.loads(block.text) for block in iter_blocks(body) if block.lang == "json"]


def check_schema(fields: set[str], documents: list[object]) -> None:
    """Every output path is documented, every documented path occurs (or sits under a null)."""
    paths: set[str] = set()
    open_paths: set[str] = set()
    for document in documents:
        flatten(document, "", paths, open_paths)
    # A field documented without a path (a location's ``line``) covers it wherever it occurs.
    undocumented = {p for p in paths if p not in fields and p.rsplit("].", 1)[-1] not in fields}
    assert not undocumented, f"not documented: {sorted(undocumented)}"
    absent = {
        f for f in fields
        if f not in paths and not any(p.endswith("]." + f) for p in paths)
        and not any(f == o or f.startswith((o + ".", o + "[")) for o in open_paths)
    }  # fmt: skip
    assert not absent, f"documented but never in the output: {sorted(absent)}"


@pytest.mark.parametrize("name", ["parse", "symbolize", "bisect-log", "boot", "bisect"])
def test_json_schemas_match_output(name: str, scratch: Path, tmp_path: Path) -> None:
    fields, documents = json_section(name)
    assert documents, f"docs/json.md ({name}) has no example"
    commands = JSON_COMMANDS.get(name, [])
    if any(str(SCRATCH) in " ".join(argv) for argv in commands):
        build_demo(_env(tmp_path))
    for argv in commands:
        proc = subprocess.run([sys.executable, "-m", "crashsig", *argv], cwd=ROOT, capture_output=True, text=True,
                              check=False, timeout=COMMAND_TIMEOUT)  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr
        documents.append(json.loads(proc.stdout))
    check_schema(fields, documents)
