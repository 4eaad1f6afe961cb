"""Start-up: prepare MongoDB for the API and the workers (idempotent, run before both)."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.database import Database

from app.services.datasets import complete_target_profiles, load_builtin_datasets
from app.storage.mongo import ensure_indexes
from app.storage.signing import Signer


@dataclass
class SetupReport:
    """What ``prepare_database`` did."""

    loaded: list[str]
    profiles_completed: int


def prepare_database(db: Database, signer: Signer) -> SetupReport:
    """Create every index, load new built-in datasets, complete old dataset profiles."""
    ensure_indexes(db)
    loaded = load_builtin_datasets(db, signer)
    return SetupReport(loaded=loaded, profiles_completed=complete_target_profiles(db, signer))
