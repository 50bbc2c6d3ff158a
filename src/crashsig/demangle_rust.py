"""Rust v0 symbol demangling (`_R...`).

Output follows github.com/ianlancetaylor/demangle (which syzkaller uses): crate hashes
and the instantiating crate are dropped, `.llvm.NNN`-style suffixes are dropped, inherent
impls print as `<Type>::method`, trait impls as `<Type as path::Trait>::method`.
"""

from __future__ import annotations

from collections.abc import Callable

from crashsig.demangle_cursor import Cursor, DemangleError, recursive

_BASIC_TYPES = {
    "a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32", "h": "u8",
    "i": "isize", "j": "usize", "l": "i32", "m": "u32", "n": "i128", "o": "u128", "p": "_",
    "s": "i16", "t": "u16", "u": "()", "v": "...", "x": "i64", "y": "u64", "z": "!",
}  # fmt: skip
_SIGNED_CONSTS = frozenset("aslxni")
_UNSIGNED_CONSTS = frozenset("htmyoj")
_CHAR_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", "'": "\\'"}
_IDENT_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_HEX = "0123456789abcdef"
_U64 = (1 << 64) - 1


def demangle_v0(name: str) -> str:
    """Demangle a `_R` symbol; raise DemangleError if it is malformed."""
    body = name[2:].split(".", 1)[0]  # a ".llvm.NNN" style suffix is dropped
    return _V0(body).symbol()


class _V0(Cursor):
    """Parser and printer for one v0 symbol body (the text after `_R`)."""

    def __init__(self, body: str) -> None:
        super().__init__(body)
        self.out: list[str] = []
        self.last = ""  # last character printed
        self.skip = False  # parse without printing
        self.lifetimes = 0  # number of lifetimes bound by enclosing binders

    def emit(self, text: str) -> None:
        if self.skip or not text:
            return
        self.spend(len(text))
        self.out.append(text)
        self.last = text[-1]

    def symbol(self) -> str:
        if not self.peek() or self.peek().isdigit():
            self.fail("missing path or unsupported encoding version")
        self.path(True)
        if self.peek():  # the instantiating crate is parsed but not printed
            self.skip = True
            self.path(False)
        if self.peek():
            self.fail("trailing characters")
        return "".join(self.out)

    @recursive
    def path(self, needs_separator: bool) -> None:
        c = self.peek()
        self.spend(1)
        if c == "C":
            self.pos += 1
            self.emit(self.identifier()[1])
        elif c in ("M", "X"):
            self.pos += 1
            self.impl_path()
            self.emit("<")
            self.type()
            if c == "X":
                self.emit(" as ")
                self.path(False)
            self.emit(">")
        elif c == "Y":
            self.pos += 1
            self.emit("<")
            self.type()
            self.emit(" as ")
            self.path(False)
            self.emit(">")
        elif c == "N":
            self.pos += 1
            namespace = self.take(1)
            if not namespace.isascii() or not namespace.isalpha():
                self.fail("bad namespace")
            self.path(needs_separator)
            disambiguator, ident = self.identifier()
            if namespace.islower():
                self.emit("::" + ident)
            else:
                kind = {"C": "closure", "S": "shim"}.get(namespace, namespace)
                label = f"{kind}:{ident}" if ident else kind
                self.emit(f"::{{{label}#{disambiguator}}}")
        elif c == "I":
            self.pos += 1
            self.path(needs_separator)
            self.emit("::<" if needs_separator else "<")
            self.generic_args()
            self.emit(">")
            self.expect("E")
        elif c == "B":
            self.backref(lambda: self.path(needs_separator))
        else:
            self.fail("bad path")

    def impl_path(self) -> None:
        held, self.skip = self.skip, True
        self.disambiguator()
        self.path(False)
        self.skip = held

    def identifier(self) -> tuple[int, str]:
        disambiguator = self.disambiguator()
        return disambiguator, self.plain_identifier()[0]

    def disambiguator(self) -> int:
        return self.base62() + 1 if self.skip_if("s") else 0

    def plain_identifier(self) -> tuple[str, bool]:
        punycode = self.skip_if("u")
        size = self.decimal()
        self.skip_if("_")
        ident = self.take(size)
        if any(c not in _IDENT_CHARS for c in ident):
            self.fail("bad identifier character")
        return (_punycode(ident) if punycode else ident), punycode

    def generic_args(self) -> None:
        first = True
        while self.peek() not in ("", "E"):
            if not first:
                self.emit(", ")
            first = False
            self.generic_arg()

    def generic_arg(self) -> None:
        if self.skip_if("L"):
            self.lifetime(self.base62())
        elif self.skip_if("K"):
            self.const()
        else:
            self.type()

    def binder(self) -> None:
        if not self.skip_if("G"):
            return
        count = self.base62() + 1
        if count >= self.end - self.pos - self.lifetimes:
            self.fail("too many bound lifetimes")
        self.emit("for<")
        for i in range(count):
            if i:
                self.emit(", ")
            self.lifetimes += 1
            self.lifetime(1)
        self.emit("> ")

    @recursive
    def type(self) -> None:
        c = self.peek()
        self.spend(1)
        if c in _BASIC_TYPES:
            self.pos += 1
            self.emit(_BASIC_TYPES[c])
        elif c and c in "CMXYNI":
            self.path(False)
        elif c in ("A", "S"):
            self.pos += 1
            self.emit("[")
            self.type()
            if c == "A":
                self.emit("; ")
                self.const()
            self.emit("]")
        elif c == "T":
            self.pos += 1
            self.emit("(")
            count = 0
            while self.peek() not in ("", "E"):
                self.emit(", " if count else "")
                count += 1
                self.type()
            self.emit(",)" if count == 1 else ")")
            self.expect("E")
        elif c in ("R", "Q"):
            self.pos += 1
            self.emit("&")
            if self.skip_if("L"):
                lifetime = self.base62()
                if lifetime:
                    self.lifetime(lifetime)
                    self.emit(" ")
            self.emit("mut " if c == "Q" else "")
            self.type()
        elif c in ("P", "O"):
            self.pos += 1
            self.emit("*const " if c == "P" else "*mut ")
            self.type()
        elif c in ("F", "D"):
            self.pos += 1
            held = self.lifetimes
            if c == "F":
                self.fn_sig()
            else:
                self.dyn_bounds()
            self.lifetimes = held
        elif c == "B":
            self.backref(self.type)
        else:
            self.fail("bad type")

    def fn_sig(self) -> None:
        self.binder()
        if self.skip_if("U"):
            self.emit("unsafe ")
        if self.skip_if("K"):
            if self.skip_if("C"):
                self.emit('extern "C" ')
            else:
                abi, punycode = self.plain_identifier()
                if punycode:
                    self.fail("punycode ABI name")
                self.emit(f'extern "{abi.replace("_", "-")}" ')
        self.emit("fn(")
        first = True
        while self.peek() not in ("", "E"):
            self.emit("" if first else ", ")
            first = False
            self.type()
        self.expect("E")
        self.emit(")")
        if not self.skip_if("u"):
            self.emit(" -> ")
            self.type()

    def dyn_bounds(self) -> None:
        self.emit("dyn ")
        self.binder()
        first = True
        while self.peek() not in ("", "E"):
            self.emit("" if first else " + ")
            first = False
            self.dyn_trait()
        self.expect("E")
        self.expect("L")
        lifetime = self.base62()
        if lifetime:
            self.emit("+ " if self.last == " " else " + ")
            self.lifetime(lifetime)

    def dyn_trait(self) -> None:
        started = self.path_open_generics()
        while self.skip_if("p"):
            self.emit(", " if started else "<")
            started = True
            self.emit(self.plain_identifier()[0] + " = ")
            self.type()
        if started:
            self.emit(">")

    @recursive
    def path_open_generics(self) -> bool:
        """Like path(False), but leave generic arguments open; report if it opened them."""
        if self.skip_if("I"):
            self.path(False)
            self.emit("<")
            self.generic_args()
            self.expect("E")
            return True
        if self.peek() == "B":
            opened = [False]
            self.backref(lambda: opened.__setitem__(0, self.path_open_generics()))
            return opened[0]
        self.path(False)
        return False

    def lifetime(self, index: int) -> None:
        self.emit("'")
        if index == 0:
            self.emit("_")
            return
        depth = self.lifetimes - index
        if depth < 0:
            self.fail("bad lifetime")
        self.emit(chr(ord("a") + depth) if depth < 26 else f"z{depth - 25}")

    @recursive
    def const(self) -> None:
        if self.peek() == "B":
            self.backref(self.const)
            return
        if self.skip_if("p"):
            self.emit("_")
            return
        kind = self.take(1)
        if kind not in _SIGNED_CONSTS and kind not in _UNSIGNED_CONSTS and kind not in "bc":
            self.fail("bad constant type")
        if kind in _SIGNED_CONSTS and self.skip_if("n"):
            self.emit("-")
        end = self.text.find("_", self.pos, self.end)
        digits = self.text[self.pos : end] if end >= 0 else ""
        if not digits or any(c not in _HEX for c in digits) or (digits[0] == "0" and len(digits) > 1):
            self.fail("bad constant value")
        self.pos = end + 1
        value = int(digits, 16)
        if kind == "b":
            if value > 1:
                self.fail("bad bool")
            self.emit("true" if value else "false")
        elif kind == "c":
            if len(digits) > 6:
                self.fail("bad char")
            char = chr(value) if value < 0x110000 else ""
            shown = _CHAR_ESCAPES.get(char) or (char if " " <= char <= "~" else f"\\u{{{value:x}}}")
            self.emit(f"'{shown}'")
        else:
            self.emit("0x" + digits if len(digits) > 16 else str(value))

    def backref(self, parse: Callable[[], object]) -> None:
        """Re-parse the text between an earlier offset and this `B<n>` (not when skipping)."""
        start = self.pos
        self.expect("B")
        target = self.base62()
        if self.skip:
            return
        if target >= start:
            self.fail("forward back-reference")
        held = self.pos, self.end
        self.spend(start - target)
        self.pos, self.end = target, start
        parse()
        self.pos, self.end = held

    def base62(self) -> int:
        if self.skip_if("_"):
            return 0
        value = 0
        while (c := self.take(1)) != "_":
            if not c.isascii() or not c.isalnum():
                self.fail("bad base-62 digit")
            digit = int(c) if c.isdigit() else ord(c) - (87 if c.islower() else 29)
            value = (value * 62 + digit) & _U64  # crate hashes overflow; wrap like int64
        return _as_int64(value + 1)

    def decimal(self) -> int:
        if not self.peek():
            self.fail("missing number")
        start = self.pos
        while self.peek().isdigit() and self.peek().isascii():
            self.pos += 1
        if self.pos - start > 9:
            self.fail("decimal overflow")
        return int(self.text[start : self.pos] or "0")


def _as_int64(value: int) -> int:
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


def _punycode(text: str) -> str:
    """Decode RFC 3492 punycode as Rust writes it (`_` separates the ASCII part)."""
    cut = text.rfind("_")
    output = list(text[:cut]) if cut >= 0 else []
    encoded = text[cut + 1 :]
    n, bias, i, pos = 128, 72, 0, 0
    while pos < len(encoded):
        old_i, weight, k = i, 1, 36
        while True:
            if pos == len(encoded):
                raise DemangleError("unterminated punycode")
            d = encoded[pos]
            pos += 1
            digit = ord(d) - (22 if d.isdigit() else 65 if d.isupper() else 97)
            i += digit * weight
            t = 1 if k <= bias else 26 if k > bias + 26 else k - bias
            if digit < t:
                break
            weight *= 36 - t
            if weight > 1 << 31:
                raise DemangleError("punycode overflow")
            k += 36
        delta = (i - old_i) // (700 if old_i == 0 else 2)
        delta += delta // (len(output) + 1)
        k = 0
        while delta > 455:  # ((36 - 1) * 26) // 2
            delta //= 35
            k += 36
        bias = k + 36 * delta // (delta + 38)
        n += i // (len(output) + 1)
        if n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
            raise DemangleError("bad punycode code point")
        i %= len(output) + 1
        output.insert(i, chr(n))
        i += 1
    return "".join(output)
