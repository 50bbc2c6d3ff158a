"""The public symbolizer: a vmlinux, its modules, and reports or raw logs to annotate."""

from __future__ import annotations

import os
import re

from crashsig.errors import ElfError
from crashsig.symbolize.cache import IndexCache, logger
from crashsig.symbolize.location import Location
from crashsig.symbolize.modules import ModuleFinder, ModulesArg, normalize_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of a crashsig symbolize run)
if TYPE_CHECKING:
    from typing import Self, TypeAlias

    from crashsig.symbolize.binary import BinarySymbolizer
    from crashsig.symbolize.index import IndexedBinary
    from crashsig.types import Frame, Report

    Binary: TypeAlias = BinarySymbolizer | IndexedBinary


class Symbolizer:
    """Source locations for kernel frames, from a vmlinux and optionally its modules.

    :param vmlinux: the kernel image with (ideally) DWARF; without DWARF, results carry
        symbol names only and :attr:`notes` says so.
    :param modules: a directory searched for ``NAME.ko`` / ``NAME.ko.debug``, or a
        mapping module name -> path.
    :param cache_dir: where the on-disk index keyed by build-id lives (default: the
        user's cache dir); ``use_cache=False`` disables it. A file's index is built
        the first time the file is used (a Debian vmlinux: about a minute, once); later
        processes answer from it without parsing the ELF file.
    """

    def __init__(
        self,
        vmlinux: str | os.PathLike[str],
        *,
        modules: ModulesArg = None,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> None:
        self.notes: list[str] = []
        """Warnings met so far (no debug info, build-id mismatches, missing modules)."""
        self._finder = ModuleFinder(modules)
        self._modules: dict[str, Binary | None] = {}
        self._cache = IndexCache(cache_dir) if use_cache else None
        self.vmlinux = self._open(vmlinux)

    def _open(self, path: str | os.PathLike[str]) -> Binary:
        """The file's index when there is one (built now if possible), else the file itself."""
        binary: Binary | None = self._cache.open(path) if self._cache is not None else None
        if binary is None:
            from crashsig.symbolize.binary import BinarySymbolizer  # not needed with an index

            direct = BinarySymbolizer(path)
            binary = self._cache.build(direct) if self._cache is not None else None
            if binary is None:
                binary = direct
            else:
                direct.close()
        if binary.note:
            self._note(binary.note)
        return binary

    def _note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)
            logger(__name__).info("%s", message)

    def binary(self, module: str | None = None) -> Binary | None:
        """The symbolizer of vmlinux (``module=None``) or of one module; None if unavailable."""
        if module is None:
            return self.vmlinux
        key = normalize_name(module)
        if key not in self._modules:
            path = self._finder.find(key)
            found = None
            if path is None:
                self._note(f"module {module}: no {module}.ko found, its frames stay unsymbolized")
            else:
                try:
                    found = self._open(path)
                except ElfError as exc:
                    self._note(f"module {module}: {exc}")
            self._modules[key] = found
        return self._modules[key]

    def check_build_id(self, build_id: str | None, module: str | None = None) -> bool:
        """Compare a build-id printed in a log with the file's; a mismatch adds a note."""
        binary = self.binary(module)
        if build_id is None or binary is None or binary.build_id is None:
            return True
        if binary.build_id.startswith(build_id.lower()):
            return True
        self._note(f"{binary.path}: build-id {binary.build_id} does not match {build_id} from the log")
        return False

    def lookup(self, address: int, *, module: str | None = None, return_address: bool = False) -> tuple[Location, ...]:
        """Inline chain at ``address``, innermost first, as ``addr2line -f -i`` prints it.

        ``return_address=True`` looks up ``address - 1`` (call-trace entries point after
        the call); the faulting RIP is looked up as is. For a module, ``address`` is in
        the module's own layout (``.text`` at 0). Empty when nothing is known.
        """
        binary = self.binary(module)
        if binary is None:
            return ()
        return binary.lookup(address - 1 if return_address else address)

    def lookup_all(
        self, addresses: list[int], *, module: str | None = None, return_address: bool = False
    ) -> list[tuple[Location, ...]]:
        """:meth:`lookup` of each address, in input order.

        The lookups run in address order, so that without an index each unit's line
        program and subprograms are decoded once, not once per visit.
        """
        answers = {
            address: self.lookup(address, module=module, return_address=return_address)
            for address in sorted(set(addresses))
        }
        return [answers[address] for address in addresses]

    def lookup_symbol(
        self,
        function: str,
        offset: int,
        *,
        module: str | None = None,
        size: int | None = None,
        return_address: bool = False,
        build_id: str | None = None,
    ) -> tuple[Location, ...]:
        """Resolve ``function+offset/size [module]`` through the symbol table (KASLR-proof).

        Where a static name exists several times, ``size`` (kallsyms size: distance to the
        next symbol) picks the one. ``build_id`` from a ``[mod BUILDID]`` frame is checked.
        """
        binary = self.binary(module)
        if binary is None:
            return ()
        if build_id is not None:
            self.check_build_id(build_id, module)
        start = binary.symbol_address(function, size)
        if start is None:
            return ()
        address = start + offset
        return binary.lookup(address - 1 if return_address and offset else address)

    def describe(self, address: int, module: str | None = None) -> str | None:
        """``func+0xOFF/0xSIZE`` for an address from the symbol table, or None."""
        binary = self.binary(module)
        return binary.describe(address) if binary is not None else None

    def annotate(self, log_text: str | bytes) -> str:
        """The log with frame lines symbolized the way syzbot prints them."""
        from crashsig.symbolize.annotate import annotate_text  # logs only: not for addresses

        text = log_text.decode("utf-8", "replace") if isinstance(log_text, bytes) else log_text
        return annotate_text(self, text)

    def symbolize(self, report: Report) -> Report:
        """A copy of ``report`` with frames given file/line, inline frames added, text annotated."""
        import attrs  # reports only: lookups do not need attrs

        from crashsig.symbolize.annotate import FRAME_RE, is_rip_prefix, kaslr_offset, logged_build_id

        text = report.text
        rips = {
            (m.group("func"), m.group("off"))
            for line in text.splitlines()
            if (m := FRAME_RE.search(line)) and is_rip_prefix(line[: m.start()])
        }
        kaslr = kaslr_offset(text)
        self.check_build_id(logged_build_id(text))
        frames: list[Frame] = []
        for frame in report.frames:
            if frame.inline:
                continue
            locs = self._frame_locations(frame, rips, kaslr)
            frames.extend(_inline_frames(frame, locs))
        return attrs.evolve(report, frames=tuple(frames), text=self.annotate(text) if text else text)

    def _frame_locations(self, frame: Frame, rips: set[tuple[str, str]], kaslr: int) -> tuple[Location, ...]:
        if frame.offset is not None and frame.function and not re.fullmatch(r"0x[0-9a-f]+", frame.function):
            exact = (frame.function, f"{frame.offset:x}") in rips
            return self.lookup_symbol(
                frame.function, frame.offset, module=frame.module, size=frame.size, return_address=not exact
            )
        if frame.address is not None and frame.module is None:
            return self.lookup(frame.address - kaslr, return_address=True)
        return ()

    def close(self) -> None:
        """Release every mapped file (and index)."""
        for binary in (self.vmlinux, *self._modules.values()):
            if binary is not None:
                binary.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _inline_frames(frame: Frame, locs: tuple[Location, ...]) -> list[Frame]:
    import attrs

    from crashsig.types import Frame

    if not locs:
        return [frame]
    out = [
        Frame(
            loc.function,
            module=frame.module,
            file=loc.short_file(),
            line=loc.line,
            inline=True,
            reliable=frame.reliable,
        )
        for loc in locs[:-1]
    ]
    outer = locs[-1]
    out.append(attrs.evolve(frame, file=outer.short_file() or frame.file, line=outer.line or frame.line))
    return out
