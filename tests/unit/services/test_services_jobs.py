"""Job use cases called directly: submit reads one dataset document, cancel, settle a kill."""

from __future__ import annotations

import pytest

from app.errors import ConflictError, DataError, ValidationError
from app.services.jobs import JobRequest, cancel_job, settle_terminated, submit_job
from app.storage.datasets import DatasetRepository
from tests.unit.api.helpers import TOY
from tests.unit.conftest import SIGNER


def _never_read(*_args, **_kwargs):
    raise AssertionError("a submit must not read the dataset's file")


@pytest.fixture
def no_file_reads(monkeypatch):
    monkeypatch.setattr(DatasetRepository, "read_csv_bytes", _never_read)


def test_defaults_live_in_the_request_model(loaded_db, celery, no_file_reads) -> None:
    job = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"))
    assert (job["test_size"], job["random_state"]) == (0.2, 42)
    assert job["model_name"] == "iris_knn" and job["queue"] == "training"
    assert loaded_db.jobs.find_one({"_id": job["_id"]})["status"] == "queued"
    assert [m["task_id"] for m in celery.sent] == [job["_id"]]


def test_each_kind_of_job_goes_to_the_queue_its_setting_names(
    loaded_db, celery, settings, no_file_reads
) -> None:
    celery.settings = settings.model_copy(update={"training_queue": "tf-train"})
    job = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"))
    assert job["queue"] == "tf-train" == loaded_db.jobs.find_one({"_id": job["_id"]})["queue"]
    assert celery.sent[-1]["queue"] == "tf-train"


def test_another_target_takes_its_task_from_the_stored_profile(
    loaded_db, celery, no_file_reads
) -> None:
    request = JobRequest(dataset="iris", algorithm="ridge", target="petal_width")
    job = submit_job(loaded_db, celery, request)
    assert (job["target"], job["task"]) == ("petal_width", "regression")


def test_dataset_rules_use_the_chosen_targets_classes(loaded_db, celery) -> None:
    DatasetRepository(loaded_db, SIGNER).create(
        "toy3",
        TOY,
        {
            "name": "toy3",
            "target": "label",
            "task": "classification",
            "features": ["a", "b"],
            "n_samples": 40,
            "classes": ["no", "yes"],
            "targets": {
                "label": {"task": "classification", "n_samples": 40, "n_classes": 2},
                "b": {"task": "classification", "n_samples": 40, "n_classes": 3},
                "a": {"error": "Target column 'a' needs at least two distinct values."},
            },
        },
    )
    boosted = {"loss": "exponential"}
    ok = JobRequest(dataset="toy3", algorithm="gradient_boosting", hyperparameters=boosted)
    assert submit_job(loaded_db, celery, ok)["task"] == "classification"
    three = ok.model_copy(update={"target": "b"})
    with pytest.raises(ValidationError, match="needs two classes"):
        submit_job(loaded_db, celery, three)
    with pytest.raises(DataError, match="two distinct values"):
        submit_job(loaded_db, celery, ok.model_copy(update={"target": "a"}))


def test_cancel_of_an_ended_job_conflicts(loaded_db, redis, celery) -> None:
    job = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"))
    assert cancel_job(loaded_db, redis, celery, job["_id"])["status"] == "cancelled"
    with pytest.raises(ConflictError):
        cancel_job(loaded_db, redis, celery, job["_id"])


def test_a_job_killed_after_its_commit_ends_cancelled_with_no_model(
    loaded_db, redis, celery, run_job
) -> None:
    job = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"))
    run_job(job["_id"])
    # the kill came between the commit and the finish: the job is still running
    loaded_db.jobs.update_one({"_id": job["_id"]}, {"$set": {"status": "running"}})
    settle_terminated(loaded_db, redis, job["_id"])
    ended = loaded_db.jobs.find_one({"_id": job["_id"]})
    assert ended["status"] == "cancelled"
    assert loaded_db.models.count_documents({}) == 0
    assert loaded_db["fs.files"].count_documents({"metadata.kind": "model"}) == 0
