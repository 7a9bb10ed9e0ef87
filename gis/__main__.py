"""``python -m gis``: the batch command line."""

import sys

from gis.cli import main

sys.exit(main())
