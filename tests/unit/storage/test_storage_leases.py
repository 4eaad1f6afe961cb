"""Job leases: claim, renew, fencing by attempt, hand-back, expiry and requeue."""

from __future__ import annotations

from datetime import timedelta

from pymongo.database import Database

from app.storage.jobs import JobRepository
from app.storage.leases import JobLeases
from app.storage.mongo import utcnow


def _queued(db: Database, job_id: str = "j") -> None:
    JobRepository(db).insert(
        {"_id": job_id, "status": "queued", "attempts": 0, "cancel_requested": False}
    )


def test_a_live_lease_cannot_be_claimed_twice(db: Database) -> None:
    _queued(db)
    leases = JobLeases(db)
    first = leases.claim("j", "owner-a", "w1", 30)
    assert first["attempts"] == 1 and first["owner"] == "owner-a"
    assert leases.claim("j", "owner-b", "w2", 30) is None  # a duplicate delivery


def test_an_expired_lease_is_taken_over_and_fences_the_old_run(db: Database) -> None:
    _queued(db)
    leases, jobs = JobLeases(db), JobRepository(db)
    leases.claim("j", "a", "w1", 30)
    db.jobs.update_one({"_id": "j"}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})
    second = leases.claim("j", "b", "w2", 30)
    assert second["attempts"] == 2
    assert not leases.renew("j", 1, 30)  # the old run's heartbeat finds it lost
    assert not jobs.record_progress("j", 1, "fitting", 30)
    assert jobs.finish("j", "succeeded", attempt=1) is None  # its write is fenced
    assert leases.renew("j", 2, 30)
    assert jobs.finish("j", "succeeded", attempt=2)["status"] == "succeeded"


def test_expired_jobs_are_requeued_once(db: Database) -> None:
    _queued(db)
    leases = JobLeases(db)
    leases.claim("j", "a", "w1", 30)
    assert leases.expired() == []
    db.jobs.update_one({"_id": "j"}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})
    [job] = leases.expired()
    assert leases.requeue(job) and not leases.requeue(job)  # two supervisors: one wins
    requeued = JobRepository(db).find("j")
    assert requeued["status"] == "queued" and requeued["owner"] is None


def test_hand_back_requeues_without_counting_a_death(db: Database) -> None:
    _queued(db)
    leases = JobLeases(db)
    leases.claim("j", "a", "w1", 30)
    assert leases.hand_back("j", 1) and not leases.hand_back("j", 1)
    job = JobRepository(db).find("j")
    assert job["status"] == "queued" and job["handed_back"] == 1 and job["attempts"] == 1
