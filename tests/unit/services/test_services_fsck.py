"""The integrity check finds each broken invariant, and nothing on a healthy store."""

from __future__ import annotations

from datetime import timedelta

from app.services.fsck import check_store
from app.services.jobs import JobRequest, submit_job
from app.storage.mongo import utcnow
from tests.unit.conftest import SIGNER


def _kinds(db) -> set[str]:
    return {v.kind for v in check_store(db, SIGNER)}


def test_a_healthy_store_is_clean(loaded_db, celery, redis, run_job) -> None:
    job_id = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"), redis)[
        "_id"
    ]
    run_job(job_id)
    assert check_store(loaded_db, SIGNER) == []


def test_each_broken_invariant_is_reported(loaded_db, celery, redis, run_job) -> None:
    first = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"), redis)
    run_job(first["_id"])
    model = loaded_db.models.find_one({"job_id": first["_id"]})
    stuck = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="svm"), redis)
    loaded_db.jobs.update_one(
        {"_id": stuck["_id"]},
        {"$set": {"status": "running", "lease_until": utcnow() - timedelta(seconds=5)}},
    )
    loaded_db.models.drop_index("name_1_version_1")  # as in a store restored without indexes
    loaded_db.models.drop_index("job_id_1")
    loaded_db.models.insert_one({**model, "_id": "copy", "job_id": "other"})  # same name@version
    loaded_db["fs.chunks"].update_one(
        {"files_id": model["file_id"], "n": 0}, {"$set": {"data": b"x"}}
    )
    loaded_db["fs.chunks"].insert_one({"files_id": "model:ghost:1", "n": 0, "data": b"x"})
    loaded_db.jobs.insert_one({"_id": "ghost", "status": "failed", "attempts": 1})
    assert {"job_unowned", "duplicate_version", "model_file", "orphan_chunks"} <= _kinds(loaded_db)
    loaded_db.models.delete_one({"_id": "copy"})
    loaded_db.jobs.update_one({"_id": first["_id"]}, {"$set": {"status": "failed"}})
    assert "job_models" in _kinds(loaded_db)


def test_batch_prediction_outputs_are_owned_and_checked(loaded_db, celery, redis, run_job) -> None:
    trained = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"), redis)
    run_job(trained["_id"])
    request = JobRequest(kind="predict", model="iris_knn@latest", dataset="iris")
    batch = submit_job(loaded_db, celery, request, redis)
    run_job(batch["_id"])
    job = loaded_db.jobs.find_one({"_id": batch["_id"]})
    assert job["status"] == "succeeded" and check_store(loaded_db, SIGNER) == []
    output = job["result"]["output"]["file_id"]
    loaded_db["fs.chunks"].update_one({"files_id": output, "n": 0}, {"$set": {"data": b"x"}})
    assert "output_file" in _kinds(loaded_db)  # its file no longer matches its signature
    loaded_db.jobs.update_one({"_id": batch["_id"]}, {"$set": {"result.output": None}})
    assert {"job_output", "orphan_file"} <= _kinds(loaded_db)
