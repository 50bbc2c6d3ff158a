"""Types, template arguments and literals of the Itanium C++ ABI grammar.

The name grammar (nested names, operators, local names, special names) lives in
demangle_itanium, which subclasses TypeParser; the two grammars recurse into each
other through name(), unqualified_name() and encoding().
"""

from __future__ import annotations

from typing import NamedTuple

from crashsig.demangle_cursor import Cursor, recursive

_BUILTIN = {
    "a": "signed char", "b": "bool", "c": "char", "d": "double", "e": "long double",
    "f": "float", "g": "__float128", "h": "unsigned char", "i": "int", "j": "unsigned int",
    "l": "long", "m": "unsigned long", "n": "__int128", "o": "unsigned __int128",
    "s": "short", "t": "unsigned short", "v": "void", "w": "wchar_t", "x": "long long",
    "y": "unsigned long long", "z": "...",
}  # fmt: skip
_BUILTIN_D = {
    "n": "decltype(nullptr)", "a": "auto", "c": "decltype(auto)", "f": "decimal32",
    "d": "decimal64", "e": "decimal128", "h": "half", "u": "char8_t", "s": "char16_t",
    "i": "char32_t",
}  # fmt: skip
_STD_SUBS = {  # code: (short form, long form used before a constructor/destructor, last name)
    "t": ("std", "std", "std"),
    "a": ("std::allocator", "std::allocator", "allocator"),
    "b": ("std::basic_string", "std::basic_string", "basic_string"),
    "s": ("std::string", "std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string"),
    "i": ("std::istream", "std::basic_istream<char, std::char_traits<char> >", "basic_istream"),
    "o": ("std::ostream", "std::basic_ostream<char, std::char_traits<char> >", "basic_ostream"),
    "d": ("std::iostream", "std::basic_iostream<char, std::char_traits<char> >", "basic_iostream"),
}  # fmt: skip
_LITERAL_SUFFIX = {"int": "", "unsigned int": "u", "long": "l", "unsigned long": "ul",
                   "long long": "ll", "unsigned long long": "ull"}  # fmt: skip
_FLOATS = frozenset(("double", "long double", "float", "__float128", "half"))
_DIGITS = "0123456789"


class Ty(NamedTuple):
    """A demangled name or type; declarator types print as left (inner) right."""

    left: str
    inner: str = ""  # pointer/reference declarators applied to a function or array
    right: str = ""  # parameter list or array bounds
    kind: str = ""  # "" (plain), "fn", "arr" or "pack"
    last: str = ""  # innermost unqualified name, used for constructors and destructors
    args: tuple[Ty, ...] | None = None  # template arguments when this is a template
    cdtor: bool = False  # constructor, destructor or conversion operator (no return type)


def render(t: Ty) -> str:
    """The C++ spelling of `t`."""
    if t.kind == "fn":
        return f"{t.left}({t.inner}){t.right}" if t.inner else t.left + t.right
    if t.kind == "arr":
        return f"{t.left} ({t.inner}) {t.right}" if t.inner else f"{t.left} {t.right}"
    return t.left


def is_digit(c: str) -> bool:
    return c != "" and c in _DIGITS


def is_empty_pack(t: Ty) -> bool:
    """An argument pack that prints nothing; template argument lists skip it."""
    return t.kind == "pack" and all(is_empty_pack(a) for a in t.args or ())


def comma_list(items: list[Ty]) -> list[str]:
    out: list[str] = []
    for item in items:
        out += [", ", render(item)] if out else [render(item)]
    return out


class TypeParser(Cursor):
    """The type half of the Itanium grammar, plus the state both halves share."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.subs: list[Ty] = []  # substitution candidates, in order
        self.templates: list[tuple[Ty, ...]] = []  # arguments that T_ refers to

    def encoding(self, params: bool, local: bool = False) -> str:
        raise NotImplementedError

    def name(self) -> tuple[Ty, str]:
        raise NotImplementedError

    def unqualified_name(self) -> Ty:
        raise NotImplementedError

    def join(self, *parts: str) -> str:
        """Concatenate, charging the result against the work budget."""
        self.spend(sum(map(len, parts)))
        return "".join(parts)

    @recursive
    def type(self) -> Ty:
        quals = self.cv_qualifiers()
        add = not (quals and self.peek() == "F")  # qualifiers of a method type
        c = self.peek()
        if c in _BUILTIN:
            self.pos += 1
            if not quals:
                return Ty(_BUILTIN[c])
            t = self.qualify(Ty(_BUILTIN[c]), quals)
            self.subs.append(t)
            return t
        if c == "u":
            self.pos += 1
            t = self.source_name()
        elif c == "F":
            t = self.function_type()
        elif c in ("N", "Z") or is_digit(c):
            t = self.name()[0]
        elif c == "A":
            t = self.array_type()
        elif c == "M":
            self.pos += 1
            t = self.member_pointer(self.type(), self.type())
        elif c == "T" and self.peek(1) in ("s", "u", "e"):
            kind = {"s": "struct ", "u": "union ", "e": "enum "}[self.take(2)[1]]
            t = Ty(kind + render(self.name()[0]))
        elif c == "T":
            t = self.template_param()
            if self.peek() == "I":
                self.subs.append(t)
                t = self.template(t, self.template_args())
        elif c == "S" and self.peek(1) != "t":
            t = self.substitution(prefix=False)
            if self.peek() == "I":
                t = self.template(t, self.template_args())
            else:
                add = False
        elif c == "S":
            t = self.name()[0]
        elif c in ("P", "R", "O", "C", "G"):
            self.pos += 1
            t = self.indirect(self.type(), c)
        elif c == "U" and self.peek(1) in ("l", "t"):
            t, add = self.unqualified_name(), False
        elif c == "D" and self.peek(1) in _BUILTIN_D:
            t, add = Ty(_BUILTIN_D[self.take(2)[1]]), False
        elif c == "D" and self.peek(1) == "F" and is_digit(self.peek(2)):
            self.pos += 2
            t, add = Ty(f"_Float{self.number()}"), False
            self.expect("_")
        else:
            self.fail("unsupported type")
        if add:
            self.subs.append(t)
        if quals:
            t = self.qualify(t, quals)
            self.subs.append(t)
        return t

    def cv_qualifiers(self) -> str:
        found: list[str] = []
        while self.peek() in ("r", "V", "K") and self.peek():
            found.insert(0, {"r": "restrict", "V": "volatile", "K": "const"}[self.take(1)])
        return " ".join(found)

    def qualify(self, t: Ty, quals: str) -> Ty:
        if t.kind == "fn" and not t.inner:
            return t._replace(right=self.join(t.right, " ", quals))
        if t.kind and t.inner:
            return t._replace(inner=self.join(t.inner, " ", quals))
        return Ty(self.join(t.left, " ", quals), kind=t.kind, right=t.right)

    def indirect(self, t: Ty, code: str) -> Ty:
        if code in ("C", "G"):
            return Ty(self.join(render(t), " _Complex" if code == "C" else " _Imaginary"))
        symbol = {"P": "*", "R": "&", "O": "&&"}[code]
        if t.kind in ("fn", "arr"):
            return Ty(t.left, self.join(t.inner, symbol), t.right, t.kind)
        return Ty(self.join(render(t), symbol))

    def member_pointer(self, cls: Ty, member: Ty) -> Ty:
        if member.kind in ("fn", "arr") and not member.inner:
            return member._replace(inner=self.join(render(cls), "::*"))
        if member.kind:
            self.fail("unsupported member pointer")
        return Ty(self.join(render(member), " ", render(cls), "::*"))

    def function_type(self) -> Ty:
        self.expect("F")
        self.skip_if("Y")  # extern "C": not printed
        ret = self.type()
        if ret.kind:
            self.fail("function returning a function pointer")
        params = self.parmlist()
        ref = {"R": " &", "O": " &&"}.get(self.peek(), "")
        self.pos += bool(ref)
        self.expect("E")
        return Ty(self.join(render(ret), " "), "", self.join("(", params, ")", ref), "fn")

    def array_type(self) -> Ty:
        self.expect("A")
        start = self.pos
        while is_digit(self.peek()):
            self.pos += 1
        bound = self.text[start : self.pos]
        self.expect("_")
        element = self.type()
        if element.inner or element.kind == "fn":
            self.fail("unsupported array element")
        return Ty(render(element) if element.kind != "arr" else element.left, "",
                  self.join("[", bound, "]", element.right), "arr")  # fmt: skip

    def parmlist(self) -> str:
        types: list[Ty] = []
        while self.peek() not in ("", "E", ".", "Q") and not (self.peek() in ("R", "O") and self.peek(1) == "E"):
            types.append(self.type())
        if not types:
            self.fail("empty parameter list")
        if len(types) == 1 and types[0] == Ty("void"):
            return ""
        return self.join(*comma_list(types))

    def template_param(self) -> Ty:
        self.expect("T")
        level = self.compact_number() if self.skip_if("L") else 0
        index = self.compact_number()
        if level >= len(self.templates) or index >= len(self.templates[level]):
            self.fail("template parameter out of scope")
        return self.templates[level][index]

    def template_args(self) -> list[Ty]:
        self.pos += 1  # "I" (or "J" for a pack)
        args: list[Ty] = []
        while not self.skip_if("E"):
            args.append(self.template_arg())
        return args

    @recursive
    def template_arg(self) -> Ty:
        c = self.peek()
        if c == "L":
            return self.expr_primary()
        if c in ("I", "J"):
            pack = self.template_args()
            return Ty(self.join(*comma_list(pack)), kind="pack", args=tuple(pack))
        if c == "X" and self.peek(1) in ("T", "L"):  # only the simplest expressions
            self.pos += 1
            arg = self.template_param() if self.peek() == "T" else self.expr_primary()
            self.expect("E")
            return arg
        if c in ("X", "") or (c == "T" and self.peek(1) in ("y", "n", "t", "p", "k")):
            self.fail("unsupported template argument")
        return self.type()

    def template(self, name: Ty, args: list[Ty]) -> Ty:
        head = render(name)
        body = self.join(*comma_list([a for a in args if not is_empty_pack(a)]))
        text = self.join(
            head,
            " <" if head.endswith("<") else "<",
            body,
            " >" if body.endswith(">") else ">",
        )
        return Ty(text, last=name.last, args=tuple(args), cdtor=name.cdtor)

    def expr_primary(self) -> Ty:
        self.expect("L")
        if self.peek() in ("_", "Z"):
            self.skip_if("_")
            self.expect("Z")
            text = self.encoding(True)
            self.expect("E")
            return Ty(text)
        t = render(self.type())
        negative = self.skip_if("n")
        end = self.text.find("E", self.pos, self.end)
        if end < 0:
            self.fail("unterminated literal")
        value, self.pos = self.text[self.pos : end], end + 1
        if not value and t != "decltype(nullptr)":
            self.fail("unsupported literal")
        sign = "-" if negative else ""
        if t in _LITERAL_SUFFIX:
            return Ty(sign + value + _LITERAL_SUFFIX[t])
        if t == "bool" and not negative and value in ("0", "1"):
            return Ty("true" if value == "1" else "false")
        if t == "decltype(nullptr)" and value in ("", "0"):
            return Ty(t)
        shown = f"[{sign}{value}]" if t in _FLOATS else sign + value
        return Ty(self.join("(", t, ")", shown))

    def substitution(self, prefix: bool) -> Ty:
        self.expect("S")
        c = self.peek()
        if c == "_" or is_digit(c) or c.isupper():
            index = self.seq_id(eof_ok=False)
            if index >= len(self.subs):
                self.fail("substitution out of range")
            return self.subs[index]
        if c not in _STD_SUBS:
            self.fail("bad substitution")
        self.pos += 1
        short, long, last = _STD_SUBS[c]
        return Ty(long if prefix and self.peek() in ("C", "D") else short, last=last)

    def seq_id(self, eof_ok: bool) -> int:
        if self.skip_if("_"):
            return 0
        value = 0
        while not self.skip_if("_"):
            c = self.peek()
            if not c and eof_ok:
                break
            if not (is_digit(c) or ("A" <= c <= "Z")):
                self.fail("bad sequence id")
            value = value * 36 + int(c, 36)
            self.pos += 1
            if value > 1 << 31:
                self.fail("sequence id overflow")
        return value + 1

    def source_name(self) -> Ty:
        size = self.number()
        if size <= 0:
            self.fail("bad identifier length")
        ident = self.take(size)
        if ident.startswith("_GLOBAL_") and len(ident) > 10 and ident[8] in "._$" and ident[9] == "N":
            ident = "(anonymous namespace)"
        return Ty(ident, last=ident)

    def number(self) -> int:
        negative = self.skip_if("n")
        start = self.pos
        while is_digit(self.peek()):
            self.pos += 1
        if start == self.pos or self.pos - start > 9:
            self.fail("bad number")
        value = int(self.text[start : self.pos])
        return -value if negative else value

    def compact_number(self) -> int:
        """`_` is 0, `<n>_` is n + 1."""
        if self.skip_if("_"):
            return 0
        if self.peek() == "n":
            self.fail("negative index")
        value = self.number()
        self.expect("_")
        return value + 1
