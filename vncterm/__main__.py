"""``python -m vncterm``: the same as the ``vncterm`` command."""

import sys

from .cli import main

sys.exit(main())
