"""``python -m tvwizard``."""

import sys

from tvwizard.cli import main

sys.exit(main())
