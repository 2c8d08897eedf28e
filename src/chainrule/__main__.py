"""``python -m chainrule show FILE.py:FUNC``: same as the ``chainrule`` command."""

import sys

from .cli import main

sys.exit(main())
