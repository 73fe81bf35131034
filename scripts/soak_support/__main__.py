"""``python -m soak_support`` (what ``scripts/soak`` runs)."""

from __future__ import annotations

import sys

from .drive import main
from .options import parse

if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
