"""Job state transitions, dataset and model versioning, statistics."""

from __future__ import annotations

import pytest
from pymongo.database import Database

from app.errors import NotFoundError
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository, utcnow
from app.storage.leases import JobLeases
from app.storage.models import ModelRepository
from tests.unit.conftest import SIGNER


def _job(job_id: str = "j1", status: str = "queued") -> dict:
    return {
        "_id": job_id,
        "status": status,
        "queue": "training",
        "attempts": 0,
        "created_at": utcnow(),
        "cancel_requested": False,
        "algorithm": "knn",
    }


def test_cancel_of_queued_job_ends_it_and_it_can_no_longer_be_claimed(db: Database) -> None:
    jobs = JobRepository(db)
    jobs.insert(_job())
    cancelled = jobs.request_cancel("j1")
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["type"] == "cancelled"
    assert JobLeases(db).claim("j1", "o", "w1", 30) is None


def test_cancel_of_running_job_only_flags_it(db: Database) -> None:
    jobs = JobRepository(db)
    jobs.insert(_job())
    JobLeases(db).claim("j1", "o", "w1", 30)
    assert jobs.request_cancel("j1")["status"] == "running"
    assert jobs.is_cancel_requested("j1")
    jobs.finish("j1", "succeeded")
    assert jobs.request_cancel("j1") is None


def test_list_is_newest_first_and_paginated(db: Database) -> None:
    jobs = JobRepository(db)
    for i in range(5):
        jobs.insert({**_job(f"j{i}"), "model_name": "a" if i % 2 else "b"})
    page = jobs.list({"model_name": None}, page=1, limit=2)
    assert (page.total, [job["_id"] for job in page.items]) == (5, ["j4", "j3"])
    assert [job["_id"] for job in jobs.list({"model_name": "a"}, 2, 1).items] == ["j1"]


def test_count_by_status_lists_every_status(db: Database) -> None:
    jobs = JobRepository(db)
    jobs.insert(_job("a"))
    jobs.insert(_job("b", "failed"))
    assert jobs.count_by_status() == {
        "queued": 1,
        "running": 0,
        "succeeded": 0,
        "failed": 1,
        "cancelled": 0,
    }


def test_dataset_versions_increase_per_name(db: Database) -> None:
    repo = DatasetRepository(db, SIGNER)
    first = repo.create("d", b"a,b\n1,2\n", {"target": "b", "sha256": "x"})
    second = repo.create("d", b"a,b\n1,3\n", {"target": "b", "sha256": "y"})
    other = repo.create("e", b"a,b\n1,2\n", {"target": "b", "sha256": "x"})
    assert (first["version"], second["version"], other["version"]) == (1, 2, 1)
    assert repo.get("d")["version"] == 2
    assert repo.get("d", 1)["sha256"] == "x"
    assert repo.read_csv_bytes(repo.get("d", 1)) == b"a,b\n1,2\n"
    with pytest.raises(NotFoundError):
        repo.get("d", 3)
    latest = repo.list_latest(1, 10)
    assert [(d["name"], d["versions"]) for d in latest.items] == [("d", 2), ("e", 1)]


def _model(model_id: str, job_id: str, version: int, **extra) -> dict:
    return {
        "_id": model_id,
        "job_id": job_id,
        "name": "m",
        "version": version,
        "algorithm": "knn",
        "task": "classification",
        "dataset_name": "iris",
        "score": 0.9,
        "created_at": utcnow(),
        **extra,
    }


def test_versions_are_never_reused_even_after_delete(db: Database) -> None:
    models = ModelRepository(db, SIGNER)
    assert [models.next_version("m") for _ in range(3)] == [1, 2, 3]
    assert models.next_version("other") == 1
    stored = models.artifacts.put(b"model", "m.joblib", {"kind": "model", "job_id": "j"})
    models.commit(_model("id3", "j", 3, file_id=stored.file_id))
    models.delete("id3")
    assert db["fs.files"].count_documents({}) == 0
    assert models.next_version("m") == 4


def test_commit_of_same_job_twice_returns_the_first_model(db: Database) -> None:
    models = ModelRepository(db, SIGNER)
    first = models.commit(_model("a", "j", 1))
    again = models.commit(_model("b", "j", 2))
    assert again["_id"] == first["_id"] == "a"
    assert db.models.count_documents({}) == 1


def test_discard_uncommitted_keeps_committed_artifacts(db: Database) -> None:
    models = ModelRepository(db, SIGNER)
    models.artifacts.put(b"orphan", "m.joblib", {"kind": "model", "job_id": "crashed"})
    kept = models.artifacts.put(b"good", "m.joblib", {"kind": "model", "job_id": "done"})
    models.commit(_model("a", "done", 1, file_id=kept.file_id))
    assert models.discard_uncommitted("crashed", attempts=1) == 1
    assert models.discard_uncommitted("done", attempts=1) == 0
    assert db["fs.files"].count_documents({}) == 1


def test_counts_and_score_summaries_group_by_task_and_algorithm(db: Database) -> None:
    models = ModelRepository(db, SIGNER)
    models.commit(_model("a", "j1", 1, score=0.8))
    models.commit(_model("b", "j2", 2, score=1.0))
    models.commit(
        _model(
            "c", "j3", 3, score=0.5, task="regression", algorithm="ridge", dataset_name="diabetes"
        )
    )
    assert models.count() == 3
    assert models.count_by("algorithm") == {"knn": 2, "ridge": 1}
    assert models.count_by("dataset_name") == {"iris": 2, "diabetes": 1}
    assert models.score_summary("classification") == {"knn": {"count": 2, "best": 1.0, "mean": 0.9}}
    assert models.score_summary("regression") == {"ridge": {"count": 1, "best": 0.5, "mean": 0.5}}
