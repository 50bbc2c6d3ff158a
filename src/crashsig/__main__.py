"""``python -m crashsig``: same as the ``crashsig`` command."""

import sys

from crashsig.cli import entry_point

sys.exit(entry_point())
