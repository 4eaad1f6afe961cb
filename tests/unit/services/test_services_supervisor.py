"""The supervisor's checks, each safe to run twice: requeue, finish, cancel, republish, clean."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.jobs import JobRequest, submit_job
from app.services.supervisor import tick
from app.storage.leases import JobLeases
from app.storage.models import ModelRepository, artifact_id
from app.storage.mongo import utcnow
from app.storage.published import KEY, mark_claimed
from app.storage.uploads import UploadRepository
from tests.unit.conftest import SIGNER


@pytest.fixture
def submitted(loaded_db, celery, redis):
    def submit(**body):
        request = JobRequest(dataset="iris", algorithm="knn", **body)
        return submit_job(loaded_db, celery, request, redis)["_id"]

    return submit


def _expire(db, job_id: str) -> None:
    db.jobs.update_one({"_id": job_id}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})


def test_a_job_whose_lease_expired_is_requeued_and_published_once(
    loaded_db, redis, celery, settings, submitted
) -> None:
    job_id = submitted()
    JobLeases(loaded_db).claim(job_id, "w:1:x", "w", 20)
    mark_claimed(redis, job_id)
    _expire(loaded_db, job_id)
    sent = len(celery.sent)
    assert tick(loaded_db, redis, celery, settings).requeued == 1
    assert tick(loaded_db, redis, celery, settings).requeued == 0  # idempotent
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["status"] == "queued" and job["owner"] is None
    assert [m["task_id"] for m in celery.sent[sent:]] == [job_id]
    assert redis.sismember(KEY, job_id)


def test_a_committed_model_finishes_its_job_and_a_cancel_ends_it(
    loaded_db, redis, celery, settings, submitted, run_job
) -> None:
    done = submitted(model_name="crashed_after_commit")
    run_job(done)
    loaded_db.jobs.update_one(
        {"_id": done}, {"$set": {"status": "running", "lease_until": utcnow() - timedelta(1)}}
    )
    cancelled = submitted(model_name="cancelled_orphan")
    JobLeases(loaded_db).claim(cancelled, "w:1:x", "w", 20)
    loaded_db.jobs.update_one({"_id": cancelled}, {"$set": {"cancel_requested": True}})
    _expire(loaded_db, cancelled)
    report = tick(loaded_db, redis, celery, settings)
    assert (report.finished, report.cancelled, report.requeued) == (1, 1, 0)
    assert loaded_db.jobs.find_one({"_id": done})["status"] == "succeeded"
    assert loaded_db.jobs.find_one({"_id": cancelled})["status"] == "cancelled"


def test_queued_jobs_without_a_message_are_published_again_but_a_backlog_is_not(
    loaded_db, redis, celery, settings, submitted
) -> None:
    lost, waiting = submitted(model_name="lost"), submitted(model_name="waiting")
    redis.srem(KEY, lost)  # Redis came back empty for this one
    old = utcnow() - timedelta(seconds=settings.republish_after_seconds + 1)
    loaded_db.jobs.update_many({}, {"$set": {"created_at": old}})
    sent = len(celery.sent)
    assert tick(loaded_db, redis, celery, settings).republished == 1
    assert [m["task_id"] for m in celery.sent[sent:]] == [lost]
    assert tick(loaded_db, redis, celery, settings).republished == 0
    assert waiting  # still queued, still in the set: a backlog, not a loss


def test_an_upload_no_live_run_can_commit_is_removed(
    loaded_db, redis, celery, settings, submitted
) -> None:
    job_id = submitted()
    JobLeases(loaded_db).claim(job_id, "w:1:x", "w", 20)
    file_id = artifact_id(job_id, 1)
    UploadRepository(loaded_db).start(file_id, job_id, 1)
    loaded_db.uploads.update_one(
        {"_id": file_id}, {"$set": {"started_at": utcnow() - timedelta(1)}}
    )
    loaded_db["fs.chunks"].insert_one({"files_id": file_id, "n": 0, "data": b"half"})
    assert tick(loaded_db, redis, celery, settings).orphans_removed == 0  # its lease is live
    _expire(loaded_db, job_id)
    loaded_db.jobs.update_one({"_id": job_id}, {"$set": {"attempts": 2}})  # another attempt
    assert tick(loaded_db, redis, celery, settings).orphans_removed == 1
    assert loaded_db["fs.chunks"].count_documents({"files_id": file_id}) == 0
    assert loaded_db.uploads.count_documents({}) == 0
    assert ModelRepository(loaded_db, SIGNER).find_by_job(job_id) is None
