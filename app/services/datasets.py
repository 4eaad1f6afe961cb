"""Dataset use cases: register an upload, load the built-ins, complete old profiles.

CSV bytes are profiled by ``app.ml`` (task, columns, every column as a possible
target) and stored by ``app.storage``; a submit then reads only the document.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pymongo.database import Database

from app.ml.builtin import builtin_datasets
from app.ml.tabular import profile_dataset, read_csv, target_profile
from app.storage.datasets import DatasetRepository

log = logging.getLogger(__name__)
DATASETS_DIR = Path(__file__).resolve().parents[2] / "datasets"


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


def complete_target_profiles(db: Database) -> int:
    """Add ``targets`` to versions stored before it was recorded; how many were updated."""
    repo, updated = DatasetRepository(db), 0
    for doc in repo.without_target_profiles():
        frame = read_csv(repo.read_csv_bytes(doc))
        targets = {str(column): target_profile(frame[column]) for column in frame.columns}
        repo.set_target_profiles(doc, targets)
        updated += 1
    return updated
