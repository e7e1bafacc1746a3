"""``python -m blindmatch.cli``."""

import sys

from . import main

sys.exit(main())
