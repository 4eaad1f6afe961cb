"""Dataset use cases: register an upload, read a version's rows (verified), delete, built-ins.

CSV bytes are profiled by ``app.ml`` (task, columns, every column as a possible
target) and stored signed by ``app.storage``; a submit then reads only the
document. Built-in names (``datasets/catalog.json``) cannot be uploaded over or
deleted: every README example trains on them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pymongo.database import Database

from app.errors import ConflictError, IntegrityError
from app.ml.builtin import builtin_datasets
from app.ml.tabular import profile_dataset, read_csv, target_profile
from app.services.integrity import quarantine, refuse_if_quarantined
from app.statuses import ACTIVE
from app.storage.datasets import DatasetRepository
from app.storage.signing import Signer

log = logging.getLogger(__name__)
DATASETS_DIR = Path(__file__).resolve().parents[2] / "datasets"


def builtin_names(root: Path = DATASETS_DIR) -> frozenset[str]:
    """The names of the built-in datasets."""
    return frozenset(builtin.name for builtin in builtin_datasets(root))


def register_dataset(
    db: Database,
    signer: Signer,
    name: str,
    raw: bytes,
    target: str,
    description: str = "",
    source: str = "upload",
) -> dict[str, Any]:
    """Validate and store ``raw`` as the next version of dataset ``name``."""
    if source == "upload" and name in builtin_names():
        raise ConflictError(
            f"'{name}' is a built-in dataset; upload under another name.",
            {"field": "name", "builtin": sorted(builtin_names())},
        )
    _frame, profile = profile_dataset(raw, target)
    fields = {**asdict(profile), "description": description, "source": source}
    fields.pop("size_bytes", None)  # the repository measures what it stored
    return DatasetRepository(db, signer).create(name, raw, fields)


def read_dataset(db: Database, signer: Signer, doc: dict[str, Any]) -> bytes:
    """A version's CSV bytes, verified first; a tampered file quarantines the version."""
    refuse_if_quarantined("dataset", doc)
    try:
        return DatasetRepository(db, signer).read_csv_bytes(doc)
    except IntegrityError as error:
        raise quarantine(db, "dataset", doc, error) from None


def preview_dataset(
    db: Database, signer: Signer, doc: dict[str, Any], rows: int = 20
) -> dict[str, Any]:
    """The first ``rows`` rows of a version (read verified, as every read is) and each
    column's count of missing values: ``{"columns", "rows", "missing"}``."""
    frame = read_csv(read_dataset(db, signer, doc))
    head = frame.head(rows).astype(object)
    return {
        "columns": [str(column) for column in frame.columns],
        "rows": head.where(head.notna(), None).values.tolist(),
        "missing": {str(column): int(count) for column, count in frame.isna().sum().items()},
    }


def delete_dataset(db: Database, name: str, version: int | None = None) -> int:
    """Delete a dataset (every version, or one); models keep its name and version.

    ConflictError for a built-in, or while a job that has not finished uses it.
    Returns how many versions were deleted.
    """
    repo = DatasetRepository(db)
    repo.get(name, version)  # NotFoundError first
    if name in builtin_names():
        raise ConflictError(f"'{name}' is a built-in dataset.", {"dataset": name})
    active: dict[str, Any] = {"dataset": name, "status": {"$in": list(ACTIVE)}}
    if version is not None:
        active["dataset_version"] = version
    job = db.jobs.find_one(active, {"_id": 1})
    if job is not None:
        raise ConflictError(
            f"Dataset '{name}' is used by job {job['_id']}, which has not finished.",
            {"dataset": name, "job_id": job["_id"]},
        )
    return repo.delete(name, version)


def load_builtin_datasets(db: Database, signer: Signer, root: Path = DATASETS_DIR) -> list[str]:
    """Register each built-in dataset unless that exact content is already stored."""
    repo, loaded = DatasetRepository(db), []
    for builtin in builtin_datasets(root):
        raw = builtin.path.read_bytes()
        if repo.find_by_sha(builtin.name, hashlib.sha256(raw).hexdigest()) is not None:
            continue
        register_dataset(
            db, signer, builtin.name, raw, builtin.target, builtin.description, "builtin"
        )
        loaded.append(builtin.name)
        log.info("loaded built-in dataset %s", builtin.name)
    return loaded


def complete_target_profiles(db: Database, signer: Signer) -> int:
    """Add ``targets`` to versions stored before it was recorded; how many were updated."""
    repo, updated = DatasetRepository(db), 0
    for doc in repo.without_target_profiles():
        frame = read_csv(read_dataset(db, signer, doc))
        targets = {str(column): target_profile(frame[column]) for column in frame.columns}
        repo.set_target_profiles(doc, targets)
        updated += 1
    return updated
