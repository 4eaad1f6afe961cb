"""CSV bytes → a registered, versioned dataset: profiled by ``app.ml``, stored by ``app.storage``.

Used by ``POST /api/v1/datasets`` and by the start-up loader of the built-ins.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pymongo.database import Database

from app.ml.builtin import builtin_datasets
from app.ml.tabular import profile_dataset
from app.storage.datasets import DatasetRepository

log = logging.getLogger(__name__)
DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets"


def register_dataset(
    db: Database, name: str, raw: bytes, target: str, description: str = "", source: str = "upload"
) -> dict[str, Any]:
    """Validate and store ``raw`` as the next version of dataset ``name``."""
    _frame, profile = profile_dataset(raw, target)
    fields = {**asdict(profile), "description": description, "source": source}
    fields.pop("size_bytes", None)  # the repository measures what it stored
    return DatasetRepository(db).create(name, raw, fields)


def load_builtin_datasets(db: Database, root: Path = DATASETS_DIR) -> list[str]:
    """Register each built-in dataset unless that exact content is already stored."""
    repo, loaded = DatasetRepository(db), []
    for builtin in builtin_datasets(root):
        raw = builtin.path.read_bytes()
        if repo.find_by_sha(builtin.name, hashlib.sha256(raw).hexdigest()) is not None:
            continue
        register_dataset(db, builtin.name, raw, builtin.target, builtin.description, "builtin")
        loaded.append(builtin.name)
        log.info("loaded built-in dataset %s", builtin.name)
    return loaded
