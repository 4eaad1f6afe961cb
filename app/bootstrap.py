"""One-shot start-up: create indexes and load the built-in datasets (idempotent).

Run before the API and workers: ``python -m app.bootstrap``.
"""

from __future__ import annotations

import logging
import sys

from app.config import get_settings
from app.ingest import load_builtin_datasets
from app.storage.mongo import ensure_indexes, get_database


def main() -> int:
    """Prepare MongoDB; exit status 0 when done."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    db = get_database(get_settings())
    ensure_indexes(db)
    loaded = load_builtin_datasets(db)
    print(f"bootstrap: indexes ready; built-in datasets loaded: {', '.join(loaded) or 'none new'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
