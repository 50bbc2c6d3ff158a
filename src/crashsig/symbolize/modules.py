"""Finding module files: ``NAME.ko`` / ``NAME.ko.debug`` in a directory tree, or a mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property

ModulesArg = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None
_SUFFIXES = (".ko.debug", ".ko")


def normalize_name(name: str) -> str:
    """Module names as the kernel compares them: ``-`` and ``_`` are the same."""
    return name.replace("-", "_")


class ModuleFinder:
    """Resolves a module name from a log (``[kvm]``) to a file path."""

    def __init__(self, modules: ModulesArg) -> None:
        self._mapping: dict[str, str] | None = None
        self._root: str | None = None
        if isinstance(modules, Mapping):
            self._mapping = {normalize_name(k): os.fspath(v) for k, v in modules.items()}
        elif modules is not None:
            self._root = os.fspath(modules)

    @cached_property
    def _found(self) -> dict[str, str]:
        """Walk the directory once: module name -> path, ``.ko.debug`` preferred over ``.ko``."""
        found: dict[str, str] = {}
        if self._root is None:
            return found
        for dirpath, _, files in os.walk(self._root):
            for file in sorted(files):
                for suffix in _SUFFIXES:
                    if file.endswith(suffix):
                        name = normalize_name(file[: -len(suffix)])
                        if suffix == ".ko.debug" or name not in found:
                            found[name] = os.path.join(dirpath, file)
                        break
        return found

    def find(self, name: str) -> str | None:
        """Path of module ``name``, or None when it is not available."""
        key = normalize_name(name)
        if self._mapping is not None:
            return self._mapping.get(key)
        return self._found.get(key)
