"""Makes the repository's `scenebias` package importable when a script runs without it installed
(e.g. inside a per-rule conda env created by `snakemake --sdm conda`)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
