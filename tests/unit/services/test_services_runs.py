"""TrainingRun: the life of one job, called directly on mongomock (no broker, no worker)."""

from __future__ import annotations

import io
from typing import Any

import fakeredis
import joblib
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from pymongo.database import Database

from app.config import Settings
from app.services import runs
from app.services.runs import TrainingRun
from app.storage.jobs import new_job_document
from app.storage.models import artifact_id, model_file_ids


def queued_job(
    db: Database,
    algorithm: str = "decision_tree",
    dataset: str = "iris",
    model_name: str | None = None,
    params: dict | None = None,
) -> str:
    """Insert a queued job as the API would (validation bypassed on purpose)."""
    ds = db.datasets.find_one({"name": dataset})
    job = new_job_document(
        dataset=ds,
        algorithm=algorithm,
        model_name=model_name or f"{dataset}_{algorithm}",
        hyperparameters=params or {},
        target=ds["target"],
        task=ds["task"],
        test_size=0.2,
        random_state=42,
        queue="training",
    )
    db.jobs.insert_one(job)
    return job["_id"]


def run(db: Database, settings: Settings, job_id: str) -> dict[str, Any] | None:
    return TrainingRun(db, fakeredis.FakeRedis(), settings, job_id, "worker-test").run()


def test_successful_run_commits_one_model_that_predicts_original_labels(
    loaded_db: Database, settings: Settings
) -> None:
    job_id = queued_job(loaded_db)
    stages = []
    training = TrainingRun(loaded_db, fakeredis.FakeRedis(), settings, job_id, "w")
    training.on_progress = lambda stage, percent: stages.append(stage)
    result = training.run()
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["status"] == "succeeded" and job["attempts"] == 1 and job["worker"] == "w"
    assert job["result"] == result and result["version"] == 1
    assert stages[0] == "loading_data" and "fitting" in stages and stages[-1] == "saving"
    model = loaded_db.models.find_one({"job_id": job_id})
    assert model["name"] == "iris_decision_tree" and model["task"] == "classification"
    raw = training.models.artifacts.read(model["file_id"])
    pipeline = joblib.load(io.BytesIO(raw))
    iris = loaded_db.datasets.find_one({"name": "iris"})
    frame = runs.read_csv(training.models.artifacts.read(iris["file_id"]))
    predictions = set(pipeline.predict(frame[model["features"]]))
    assert predictions <= {"setosa", "versicolor", "virginica"}


def test_redelivery_after_commit_creates_no_second_version(
    loaded_db: Database, settings: Settings
) -> None:
    job_id = queued_job(loaded_db)
    first = run(loaded_db, settings, job_id)
    loaded_db.jobs.update_one({"_id": job_id}, {"$set": {"status": "running"}})  # died before ack
    again = run(loaded_db, settings, job_id)
    assert again == first
    assert loaded_db.models.count_documents({}) == 1
    model = loaded_db.models.find_one({"job_id": job_id})
    stored = {doc["_id"] for doc in loaded_db["fs.files"].find({"metadata.kind": "model"})}
    assert stored == set(model_file_ids(model)) and len(stored) == 2  # joblib and ONNX
    assert model["formats"]["onnx"]["status"] == "ok"  # a small model: converted in its job


def test_redelivery_after_crash_before_commit_removes_the_orphan(
    loaded_db: Database, settings: Settings
) -> None:
    job_id = queued_job(loaded_db)
    TrainingRun(loaded_db, fakeredis.FakeRedis(), settings, job_id, "w").models.artifacts.put(
        b"half a model", "x.joblib", {"kind": "model", "job_id": job_id}
    )
    loaded_db.jobs.update_one({"_id": job_id}, {"$set": {"status": "running", "attempts": 1}})
    run(loaded_db, settings, job_id)
    files = list(loaded_db["fs.files"].find({"metadata.kind": "model"}))
    model = loaded_db.models.find_one({"job_id": job_id})
    assert {f["_id"] for f in files} == set(model_file_ids(model))
    assert loaded_db.jobs.find_one({"_id": job_id})["attempts"] == 2


def test_job_that_keeps_killing_workers_fails_as_worker_lost(
    loaded_db: Database, settings: Settings
) -> None:
    job_id = queued_job(loaded_db)
    loaded_db.jobs.update_one(
        {"_id": job_id}, {"$set": {"status": "running", "attempts": settings.max_job_attempts}}
    )
    assert run(loaded_db, settings, job_id) is None
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["status"] == "failed" and job["error"]["type"] == "worker_lost"
    assert loaded_db.models.count_documents({}) == 0


def test_cancel_seen_at_a_stage_ends_cancelled_without_model(
    loaded_db: Database, settings: Settings
) -> None:
    job_id = queued_job(loaded_db)
    training = TrainingRun(loaded_db, fakeredis.FakeRedis(), settings, job_id, "w")

    def cancel_when_fitting(stage: str, percent: int) -> None:
        if stage == "fitting":
            loaded_db.jobs.update_one({"_id": job_id}, {"$set": {"cancel_requested": True}})

    training.on_progress = cancel_when_fitting
    assert training.run() is None
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["status"] == "cancelled" and job["error"]["type"] == "cancelled"
    assert loaded_db.models.count_documents({}) == 0
    assert loaded_db["fs.files"].count_documents({"metadata.kind": "model"}) == 0


def test_soft_time_limit_fails_as_timeout(loaded_db, settings, monkeypatch) -> None:
    job_id = queued_job(loaded_db)

    def too_slow(*args: Any, **kwargs: Any) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(runs, "train_pipeline", too_slow)
    run(loaded_db, settings, job_id)
    assert loaded_db.jobs.find_one({"_id": job_id})["error"]["type"] == "timeout"


def test_unexpected_error_fails_as_internal_and_cleans_up(loaded_db, settings, monkeypatch) -> None:
    job_id = queued_job(loaded_db)
    monkeypatch.setattr(runs, "save_model", lambda pipeline, out, compress: 1 / 0)
    run(loaded_db, settings, job_id)
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["status"] == "failed" and job["error"]["type"] == "internal"
    assert "ZeroDivisionError" in job["error"]["message"]
    assert loaded_db["fs.files"].count_documents({"metadata.kind": "model"}) == 0


@pytest.mark.parametrize("status", ["succeeded", "cancelled"])
def test_finished_job_is_not_run_again(loaded_db, settings, status) -> None:
    job_id = queued_job(loaded_db)
    loaded_db.jobs.update_one({"_id": job_id}, {"$set": {"status": status}})
    training = TrainingRun(loaded_db, fakeredis.FakeRedis(), settings, job_id, "w")
    assert training.run() is None and not training.claimed
    assert loaded_db.jobs.find_one({"_id": job_id})["attempts"] == 0


def test_concurrent_jobs_of_one_name_get_successive_versions(loaded_db, settings) -> None:
    first = queued_job(loaded_db, model_name="shared")
    second = queued_job(loaded_db, algorithm="knn", model_name="shared")
    versions = [run(loaded_db, settings, job)["version"] for job in (first, second)]
    assert versions == [1, 2]


def test_redelivery_removes_chunks_of_an_upload_cut_short(loaded_db, settings) -> None:
    """A worker killed mid-upload leaves chunks without a files document; the next try
    finds them by the first try's artifact id and removes them."""
    job_id = queued_job(loaded_db)
    orphan = artifact_id(job_id, 1)
    loaded_db["fs.chunks"].insert_many(
        [{"files_id": orphan, "n": n, "data": b"x" * 10} for n in range(3)]
    )
    loaded_db.jobs.update_one({"_id": job_id}, {"$set": {"status": "running", "attempts": 1}})
    run(loaded_db, settings, job_id)
    model = loaded_db.models.find_one({"job_id": job_id})
    assert model["file_id"] == artifact_id(job_id, 2)
    assert loaded_db["fs.chunks"].count_documents({"files_id": orphan}) == 0
    assert {doc["_id"] for doc in loaded_db["fs.files"].find({"metadata.kind": "model"})} == set(
        model_file_ids(model)
    )


def test_a_dataset_changed_in_storage_fails_the_job_and_is_quarantined(loaded_db, settings):
    runs._FRAMES.clear()  # the per-process cache would serve the verified copy
    job_id = queued_job(loaded_db)
    iris = loaded_db.datasets.find_one({"name": "iris"})
    loaded_db["fs.chunks"].update_one(
        {"files_id": iris["file_id"], "n": 0},
        {
            "$set": {
                "data": b"sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,7\n"
            }
        },
    )
    assert run(loaded_db, settings, job_id) is None
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["status"] == "failed" and job["error"]["type"] == "integrity"
    assert loaded_db.datasets.find_one({"_id": iris["_id"]})["quarantined"]
    assert loaded_db.models.count_documents({}) == 0
