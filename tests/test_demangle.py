"""crashsig.demangle: golden names, agreement with c++filt, real kernel reports, hostile input.

Expectations live in tests/corpus/demangle/{rust,itanium}.txt (mangled<TAB>expected, the
output of github.com/ianlancetaylor/demangle's Filter(name, NoParams) that syzkaller uses).
"""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from crashsig.demangle import demangle, demangle_strict
from crashsig.demangle_cursor import MAX_DEPTH, DemangleError

GOLDEN = Path(__file__).resolve().parent / "corpus" / "demangle"
SYZKALLER_REPORTS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "syzkaller" / "report"
)


def load_golden(name: str) -> list[tuple[str, str, str | None]]:
    """Rows (mangled, expected, what c++filt prints when it differs from expected)."""
    rows = []
    for line in (GOLDEN / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            mangled, expected, *gnu = line.split("\t")
            rows.append(
                (mangled, expected, gnu[0].removeprefix("c++filt: ") if gnu else None)
            )
    return rows


RUST = load_golden("rust.txt")
ITANIUM = load_golden("itanium.txt")


def cxxfilt(names: list[str]) -> list[str]:
    """GNU c++filt without parameters and without verbose std:: expansions."""
    result = subprocess.run(
        ["c++filt", "-p", "-i"],
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(("mangled", "expected"), [row[:2] for row in RUST + ITANIUM])
def test_golden(mangled: str, expected: str) -> None:
    assert demangle(mangled) == expected


def test_itanium_golden_agrees_with_cxxfilt() -> None:
    """Itanium expectations are c++filt's output, except the rows that say otherwise."""
    gnu = cxxfilt([mangled for mangled, _, _ in ITANIUM])
    assert gnu == [differs or expected for _, expected, differs in ITANIUM]


def test_matches_cxxfilt_on_compiled_code(tmp_path: Path) -> None:
    obj = tmp_path / "cxx_sample.o"
    source = GOLDEN / "cxx_sample.cc"
    compile_cmd = ["clang++", "-std=c++17", "-O1", "-c", str(source), "-o", str(obj)]
    subprocess.run(compile_cmd, check=True, timeout=300)
    listing = subprocess.run(
        ["nm", str(obj)], capture_output=True, text=True, timeout=60, check=True
    )
    names = sorted(
        {line.split()[-1] for line in listing.stdout.splitlines() if "_Z" in line}
    )
    names = [name for name in names if name.startswith("_Z")]
    assert len(names) > 100

    def squash(text: str) -> str:
        # The one known difference: GNU drops the space in "> >" after an empty pack.
        return text.replace("> >", ">>")

    ours = [squash(demangle(name)) for name in names]
    assert ours == [squash(line) for line in cxxfilt(names)]
    assert not set(names) & set(ours), "every compiled name should demangle"


@pytest.mark.parametrize("report", ["748", "749"])
def test_rust_frames_of_syzkaller_reports(report: str) -> None:
    text = (SYZKALLER_REPORTS / report).read_text(encoding="utf-8", errors="replace")
    frames = set(re.findall(r"(?<!\w)(_R\w+)\+0x", text))
    cfi_stubs = set(re.findall(r"(__cfi__R\w+)\+0x", text))
    assert frames and cfi_stubs
    for name in frames:
        shown = demangle(name)
        assert "::" in shown and "_R" not in shown, name
    assert all(demangle(name) == name for name in cfi_stubs)


def mutations(seed: int, count: int) -> list[str]:
    """Golden names with a few random edits, including duplicated chunks."""
    rng = random.Random(seed)
    seeds = [mangled for mangled, _, _ in RUST + ITANIUM]
    alphabet = "_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$."
    out = []
    for _ in range(count):
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars) + 1)
            j = rng.randrange(len(chars) + 1)
            op = rng.randrange(4)
            if op == 0:
                chars.insert(i, rng.choice(alphabet))
            elif op == 1 and i < len(chars):
                chars[i] = rng.choice(alphabet)
            elif op == 2 and i < len(chars):
                del chars[i]
            else:
                chars[i:i] = chars[min(i, j) : max(i, j)]
        out.append("".join(chars))
    return out


def test_mutated_names_fail_cleanly() -> None:
    """Malformed names only ever raise DemangleError inside, and demangle() never raises."""
    for name in mutations(seed=1, count=5000):
        try:
            demangle_strict(name)
        except DemangleError:
            assert demangle(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "_R", "_Z", "_Zé", "_R\x00", "_ZN٣foo", "_RNvC1a" + "9" * 40, "\udcff"],
    ids=repr,
)
def test_odd_input_is_returned_unchanged(name: str) -> None:
    assert demangle(name) == name


def test_nesting_is_bounded() -> None:
    shallow = MAX_DEPTH // 2
    assert (
        demangle("_R" + "Nv" * shallow + "C1a" + "1b" * shallow)
        == "a" + "::b" * shallow
    )
    deep = "_R" + "Nv" * 5000 + "C1a" + "1b" * 5000
    assert demangle(deep) == deep
    deep_cxx = "_Z1f" + "IN1A" * 5000 + "i" + "EE" * 5000
    assert demangle(deep_cxx) == deep_cxx


def base62(n: int) -> str:
    """Rust v0 <base-62-number> for the value n."""
    if n == 0:
        return "_"
    digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    n, text = n - 1, ""
    while True:
        n, d = divmod(n, 62)
        text = digits[d] + text
        if n == 0:
            return text + "_"


def doubling_rust(levels: int) -> str:
    """Each tuple names the previous one twice by back-reference: output 2**levels long."""
    body, previous = "INvC1a1fl", len("INvC1a1f")
    for _ in range(levels):
        offset = len(body)
        body += f"TB{base62(previous)}B{base62(previous)}E"
        previous = offset
    return "_R" + body + "E"


def doubling_itanium(levels: int) -> str:
    """Each template argument list repeats the previous template twice via S<n>_."""
    name, previous = "_Z1fI1B", 1  # substitutions so far: f, B
    for level in range(levels):
        seq = base36(previous - 1)
        name += f"1AIS{seq}_S{seq}_E"
        previous = 3 + 2 * level  # each level adds A, then A<...>
    return name + "Evv"


def base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    while True:
        n, d = divmod(n, 36)
        text = digits[d] + text
        if n == 0:
            return text


def test_exponential_expansion_is_refused() -> None:
    """Back-references could expand exponentially: small cases work, large ones give up."""
    assert (
        demangle(doubling_rust(2))
        == "a::f::<i32, (i32, i32), ((i32, i32), (i32, i32))>"
    )
    assert demangle(doubling_itanium(2)) == "f<B, A<B, B>, A<A<B, B>, A<B, B> > >"
    for name in (doubling_rust(60), doubling_itanium(60)):
        assert demangle(name) == name
