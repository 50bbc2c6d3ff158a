"""Start-up cost of ``crashsig symbolize``: the command imports only what it needs.

A new process per lookup is the common way scripts call the symbolizer, so loading the
parser's rules, QEMU helpers or (with an index) the DWARF decoders would dominate its run time.
"""

from __future__ import annotations

import subprocess
import sys

import crashsig


def _imported(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(out.stdout.split())


def test_symbolize_command_skips_parser_and_bisect() -> None:
    code = ("import sys\nfrom crashsig.cli import build_parser\nbuild_parser('symbolize')\n"
            "print(' '.join(sys.modules))")
    loaded = _imported(code)
    assert "crashsig.commands.symbolize_cmd" in loaded
    assert not {m for m in loaded if m.startswith(("crashsig.parse", "crashsig.bisect", "crashsig.rules"))}


def test_package_names_stay_what_they_were() -> None:
    code = ("import crashsig.parse, crashsig.signature, crashsig\n"
            "print(type(crashsig.parse).__name__, crashsig.parse.__module__, callable(crashsig.same_crash))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["function", "crashsig.parse", "True"]
    assert set(crashsig.__all__) <= set(dir(crashsig))
    assert crashsig.Symbolizer.__name__ == "Symbolizer"
