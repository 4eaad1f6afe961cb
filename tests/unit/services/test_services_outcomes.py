"""JobOutcomes: the one way a job ends (state, clean-up, count, notification)."""

from __future__ import annotations

from app.metrics import JOBS_FAILED
from app.services.jobs import JobRequest, submit_job
from app.services.outcomes import JobOutcomes
from app.storage.job_events import channel
from app.storage.models import ModelRepository
from tests.unit.conftest import SIGNER


def _failed_count(error_type: str) -> float:
    return JOBS_FAILED.labels(error_type)._value.get()


def test_fail_ends_once_removes_uploads_counts_and_notifies(loaded_db, redis, celery) -> None:
    job = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"))
    outcomes = JobOutcomes(loaded_db, redis)
    ModelRepository(loaded_db, SIGNER).artifacts.put(
        b"half", "m.joblib", {"kind": "model", "job_id": job["_id"]}
    )
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel(job["_id"]))
    before = _failed_count("timeout")
    ended = outcomes.fail(job["_id"], "timeout", "too slow")
    assert ended["status"] == "failed" and ended["error"] == {
        "type": "timeout",
        "message": "too slow",
    }
    assert loaded_db["fs.files"].count_documents({"metadata.job_id": job["_id"]}) == 0
    assert _failed_count("timeout") == before + 1
    messages = [pubsub.get_message(timeout=0.2) for _ in range(3)]  # the first may be None
    assert [m["data"] for m in messages if m] == [b"finished"]
    assert outcomes.fail(job["_id"], "timeout", "again") is None  # already ended
    assert _failed_count("timeout") == before + 1
