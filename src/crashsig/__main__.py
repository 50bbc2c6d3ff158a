"""``python -m crashsig``: same as the ``crashsig`` command."""

import sys

from crashsig.cli import main

sys.exit(main())
