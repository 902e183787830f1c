"""`python -m cronops`: the same entry point as the `cronops` command."""

import sys

from cronops.cli import main

sys.exit(main())
