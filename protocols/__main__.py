"""`python -m protocols ...`: see `protocols.cli`."""

import sys

from protocols.cli import main

sys.exit(main())
