"""``python -m app.bootstrap``: prepare MongoDB once before the API and the workers start."""

from __future__ import annotations

import logging
import sys

from app.config import get_settings
from app.services.setup import prepare_database
from app.storage.mongo import get_database
from app.storage.signing import Signer


def main() -> int:
    """Prepare MongoDB (indexes, built-in datasets); exit status 0 when done."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    report = prepare_database(get_database(settings), Signer.from_settings(settings))
    loaded = ", ".join(report.loaded) or "none new"
    print(f"bootstrap: indexes ready; built-in datasets loaded: {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
