"""prepare_database: indexes, built-ins, and target profiles completed for old versions."""

from __future__ import annotations

from app.services.setup import prepare_database
from tests.unit.conftest import SIGNER


def test_prepare_database_is_idempotent(db) -> None:
    first = prepare_database(db, SIGNER)
    assert sorted(first.loaded) == ["breast_cancer", "diabetes", "digits", "iris", "wine"]
    again = prepare_database(db, SIGNER)
    assert again.loaded == [] and again.profiles_completed == 0


def test_versions_stored_without_target_profiles_get_them(db) -> None:
    prepare_database(db, SIGNER)
    db.datasets.update_one({"name": "iris"}, {"$unset": {"targets": ""}})
    assert prepare_database(db, SIGNER).profiles_completed == 1
    iris = db.datasets.find_one({"name": "iris"})
    assert iris["targets"]["species"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert iris["targets"]["species"]["class_counts"] == [50, 50, 50]
