"""DWARF symbolizer for vmlinux and kernel modules, in pure Python.

``Symbolizer(vmlinux, modules=...)`` turns kernel frames into source locations with full
inline chains; see docs/symbolizer.md.
"""

from crashsig.symbolize.location import Location
from crashsig.symbolize.symbolizer import Symbolizer

__all__ = ["Location", "Symbolizer"]
