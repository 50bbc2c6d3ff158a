"""``crashsig symbolize``: annotate console logs, or look up addresses, with DWARF."""

from __future__ import annotations

import argparse
import sys

from crashsig.errors import InputError
from crashsig.symbolize import Location, Symbolizer

SCHEMA_VERSION = 1


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``symbolize`` subcommand."""
    parser = subparsers.add_parser("symbolize", help="add file:line and inline frames to kernel frames")
    parser.add_argument("files", nargs="*", metavar="LOG", help="console logs (.gz/.xz ok); '-' or none: stdin")
    parser.add_argument("--vmlinux", required=True, help="kernel image with debug info")
    parser.add_argument("--modules", metavar="DIR", help="directory searched for NAME.ko / NAME.ko.debug")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--addr", nargs="+", metavar="ADDR", help="look up these hex addresses instead of logs")
    parser.add_argument("--module", help="with --addr: addresses are in this module (.text at 0)")
    parser.add_argument("--return-address", action="store_true", help="with --addr: look up ADDR-1 (call sites)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk index")
    parser.add_argument("--cache-dir", help="on-disk index directory (default: ~/.cache/crashsig/symbolize)")
    parser.set_defaults(func=run)


def _location_json(loc: Location) -> dict[str, object]:
    return {
        "function": loc.function,
        "file": loc.short_file(),
        "path": loc.file,
        "line": loc.line,
        "column": loc.column,
        "inlined": loc.inlined,
    }


def _parse_address(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise InputError(f"--addr {text!r}: not a hex address") from None


def _run_addresses(sym: Symbolizer, args: argparse.Namespace) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    addresses = [_parse_address(text) for text in args.addr]
    answers = sym.lookup_all(addresses, module=args.module, return_address=args.return_address)
    for address, locs in zip(addresses, answers, strict=True):
        if args.format == "json":
            results.append({"address": f"{address:#x}", "locations": [_location_json(loc) for loc in locs]})
            continue
        if not locs:
            print(f"{address:#x} ?? ??:0")
        for loc in locs:
            where = f"{loc.file}:{loc.line}" if loc.file else "??:0"
            print(f"{address:#x} {loc.function} {where}{' (inlined)' if loc.inlined else ''}")
    return results


def _run_logs(sym: Symbolizer, args: argparse.Namespace) -> list[dict[str, object]]:
    from crashsig.commands.io import iter_inputs, read_input  # logs only
    from crashsig.symbolize.annotate import iter_frame_lines

    documents: list[dict[str, object]] = []
    for name in iter_inputs(args.files):
        text = read_input(name).decode("utf-8", "replace")
        if args.format == "text":
            sys.stdout.write(sym.annotate(text))
            continue
        frames = [
            {
                "line": frame.number + 1,
                "text": line.rstrip("\r\n"),
                "frame": frame.frame,
                "locations": [_location_json(loc) for loc in frame.locations],
            }
            for line, frame in iter_frame_lines(sym, text)
            if frame is not None
        ]
        documents.append({"file": name, "frames": frames})
    return documents


def run(args: argparse.Namespace) -> int:
    """Symbolize each log (or each ``--addr``) and print the result."""
    sym = Symbolizer(args.vmlinux, modules=args.modules, cache_dir=args.cache_dir, use_cache=not args.no_cache)
    try:
        results = _run_addresses(sym, args) if args.addr else _run_logs(sym, args)
        if args.format == "json":
            import json  # only here: text output need not load it (1 ms of a 20 ms indexed lookup)

            key = "addresses" if args.addr else "logs"
            document = {"schema_version": SCHEMA_VERSION, key: results, "warnings": sym.notes}
            sys.stdout.write(json.dumps(document, indent=2) + "\n")  # one write, not one per token
        else:
            for note in sym.notes:
                print(f"crashsig: warning: {note}", file=sys.stderr)
    finally:
        sym.close()
    return 0
