"""Itanium C++ ABI demangling without the top-level parameter list (`c++filt -p` style).

Output follows github.com/ianlancetaylor/demangle with its NoParams option, which
matches GNU c++filt: `_ZN3foo3barEv` -> `foo::bar`, `_ZNSt6vectorIiSaIiEE4sizeEv` ->
`std::vector<int, std::allocator<int> >::size`.  Clone suffixes such as `.isra.0` are
ignored, as NoParams implies NoClones there.  Expressions in template arguments,
C++20 modules and a few rarer productions are not supported: DemangleError is raised
and the caller keeps the name as it was.
"""

from __future__ import annotations

from crashsig.demangle_cursor import recursive
from crashsig.demangle_itanium_types import Ty, TypeParser, is_digit, render

_OPERATORS = {
    "aN": "&=", "aS": "=", "aa": "&&", "ad": "&", "an": "&", "at": "alignof", "aw": "co_await",
    "az": "alignof", "cc": "const_cast", "cl": "()", "cm": ",", "co": "~", "dV": "/=",
    "da": "delete[]", "dc": "dynamic_cast", "de": "*", "dl": "delete", "ds": ".*", "dt": ".",
    "dv": "/", "eO": "^=", "eo": "^", "eq": "==", "ge": ">=", "gt": ">", "ix": "[]",
    "lS": "<<=", "le": "<=", "ls": "<<", "lt": "<", "mI": "-=", "mL": "*=", "mi": "-",
    "ml": "*", "mm": "--", "na": "new[]", "ne": "!=", "ng": "-", "nt": "!", "nw": "new",
    "nx": "noexcept", "oR": "|=", "oo": "||", "or": "|", "pL": "+=", "pl": "+", "pm": "->*",
    "pp": "++", "ps": "+", "pt": "->", "qu": "?", "rM": "%=", "rS": ">>=",
    "rc": "reinterpret_cast", "rm": "%", "rs": ">>", "sc": "static_cast", "ss": "<=>",
    "st": "sizeof", "sz": "sizeof", "te": "typeid", "ti": "typeid", "tr": "throw", "tw": "throw",
}  # fmt: skip
_SPECIAL_TYPE = {
    "V": "vtable for ", "T": "VTT for ", "I": "typeinfo for ", "S": "typeinfo name for ",
    "F": "typeinfo fn for ", "J": "java Class for ",
}  # fmt: skip


def demangle_itanium(name: str) -> str:
    """Demangle a `_Z` symbol without its parameters; raise DemangleError if malformed."""
    return _Itanium(name[2:]).encoding(params=False)


class _Itanium(TypeParser):
    """The name half of the Itanium grammar."""

    @recursive
    def encoding(self, params: bool, local: bool = False) -> str:
        if self.peek() in ("G", "T"):
            return self.special_name()
        name, quals = self.name()
        if not params or self.peek() in ("", "E"):
            return render(name)
        if name.args is not None:
            self.templates.append(name.args)
        has_return = self.skip_if("J") or (name.args is not None and not name.cdtor)
        ret = self.type() if has_return else None
        text = self.join(render(name), "(", self.parmlist(), ")", quals)
        if name.args is not None:
            self.templates.pop()
        if ret is None or local:
            return text
        if ret.kind:
            self.fail("function returning a function pointer")
        return self.join(render(ret), " ", text)

    def special_name(self) -> str:
        group = self.take(1)
        code = self.take(1)
        if group == "T" and code in _SPECIAL_TYPE:
            return _SPECIAL_TYPE[code] + render(self.type())
        if group == "T" and code in ("h", "v"):
            self.call_offset(code)
            return ("non-virtual " if code == "h" else "virtual ") + "thunk to " + self.encoding(True)
        if group == "T" and code == "c":
            self.call_offset(self.take(1))
            self.call_offset(self.take(1))
            return "covariant return thunk to " + self.encoding(True)
        if group == "T" and code == "C":
            derived = render(self.type())
            self.number()
            self.expect("_")
            return f"construction vtable for {render(self.type())}-in-{derived}"
        if group == "T" and code in "HW":
            which = "init" if code == "H" else "wrapper"
            return f"TLS {which} function for " + render(self.name()[0])
        if group == "G" and code in "VR":
            name = render(self.name()[0])
            if code == "R":
                self.seq_id(eof_ok=True)
            return ("guard variable for " if code == "V" else "reference temporary for ") + name
        if group == "G" and code == "A":
            return "hidden alias for " + self.encoding(True)
        if group == "G" and code == "T":
            kind = "non-transaction clone for " if self.take(1) == "n" else "transaction clone for "
            return kind + self.encoding(True)
        self.fail("unsupported special name")

    def call_offset(self, kind: str) -> None:
        if kind not in ("h", "v"):
            self.fail("bad call offset")
        self.number()
        if kind == "v":
            self.expect("_")
            self.number()
        self.expect("_")

    @recursive
    def name(self) -> tuple[Ty, str]:
        """Parse <name>; also return the method qualifiers (" const", " &") it carries."""
        c = self.peek()
        if c == "N":
            return self.nested_name()
        if c == "Z":
            return self.local_name()
        if c == "U":
            return self.unqualified_name(), ""
        from_sub = c == "S" and self.peek(1) != "t"
        if from_sub:
            a = self.substitution(prefix=False)
        elif c == "S":
            self.pos += 2
            a = self.qualified(Ty("std", last="std"), self.unqualified_name())
        else:
            a = self.unqualified_name()
        if self.peek() == "I":
            if not from_sub:
                self.subs.append(a)
            a = self.template(a, self.template_args())
        return a, ""

    def nested_name(self) -> tuple[Ty, str]:
        self.expect("N")
        quals = self.cv_qualifiers()
        ref = {"R": " &", "O": " &&"}.get(self.peek(), "")
        self.pos += bool(ref)
        a = self.prefix()
        self.expect("E")
        return a, (" " + quals if quals else "") + ref

    def prefix(self) -> Ty:
        a: Ty | None = None
        last: Ty | None = None
        while True:
            c = self.peek()
            if c == "E" and a is not None:
                return a
            if is_digit(c) or c.islower() or c in ("U", "L"):
                nxt = self.unqualified_name()
            elif c in ("C", "D") and self.peek(1) not in ("T", "t") and last is not None:
                nxt = self.ctor_dtor(last)
            elif c == "S":
                nxt = self.substitution(prefix=True)
            elif c == "I" and a is not None:
                nxt, a = self.template(a, self.template_args()), None
            elif c == "T":
                nxt = self.template_param()
            elif c == "M" and a is not None:
                self.pos += 1  # lambda initializer scope: not printed
                continue
            else:
                self.fail("bad prefix")
            last = nxt
            a = nxt if a is None else self.qualified(a, nxt)
            if c != "S" and self.peek() != "E":
                self.subs.append(a)

    def ctor_dtor(self, last: Ty) -> Ty:
        kind = self.take(1)
        variant = self.take(1)
        if variant == "I":
            self.fail("inheriting constructor")
        text = last.last if kind == "C" else "~" + last.last
        return self.abi_tags(Ty(text, last=text if kind == "D" else last.last, cdtor=True))

    def unqualified_name(self) -> Ty:
        c = self.peek()
        if is_digit(c):
            a = self.source_name()
        elif c == "L":
            self.pos += 1
            a = self.source_name()
            self.discriminator()
        elif c == "U" and self.peek(1) == "l":
            a = self.closure_type()
        elif c == "U" and self.peek(1) == "t":
            self.pos += 2
            text = f"{{unnamed type#{self.compact_number() + 1}}}"
            a = Ty(text, last=text)
            self.subs.append(a)
        elif c.islower():
            a = self.operator_name()
        else:
            self.fail("bad unqualified name")
        return self.abi_tags(a)

    def abi_tags(self, a: Ty) -> Ty:
        while self.skip_if("B"):
            a = a._replace(left=self.join(a.left, "[abi:", self.source_name().left, "]"))
        return a

    def operator_name(self) -> Ty:
        code = self.take(2)
        if code == "cv":
            text = self.join("operator ", render(self.type()))
            return Ty(text, last=text, cdtor=True)
        if code[0] == "v" and is_digit(code[1]):
            op = self.source_name().left
        elif code in _OPERATORS:
            op = _OPERATORS[code]
        else:
            self.fail("unsupported operator")
        text = ("operator " if op[0].islower() else "operator") + op
        return Ty(text, last=text)

    def closure_type(self) -> Ty:
        self.pos += 2
        params = self.parmlist()
        self.expect("E")
        text = f"{{lambda({params})#{self.compact_number() + 1}}}"
        return Ty(text, last=text)

    def local_name(self) -> tuple[Ty, str]:
        self.expect("Z")
        function = self.encoding(True, local=True)
        self.expect("E")
        if self.skip_if("s"):
            self.discriminator()
            return Ty(function + "::string literal"), ""
        if self.peek() == "d":
            self.fail("default argument scope")
        entity, quals = self.name()
        self.discriminator()
        return entity._replace(left=self.join(function, "::", render(entity))), quals

    def discriminator(self) -> None:
        if not self.skip_if("_"):
            if all(is_digit(c) for c in self.text[self.pos : self.end]):
                self.pos = self.end  # clang may end the symbol with bare digits
            return
        long_form = self.skip_if("_")
        value = self.number()
        if value < 0:
            self.fail("negative discriminator")
        if value >= 10 and long_form:
            self.expect("_")

    def qualified(self, scope: Ty, name: Ty) -> Ty:
        return Ty(
            self.join(render(scope), "::", render(name)),
            last=name.last,
            cdtor=name.cdtor,
        )
