"""Job leases: which run owns a running job, until when, and with which attempt.

A run claims a job (``queued``, or ``running`` with an expired lease), which
counts the attempt: the attempt number is the fencing token every later write
of that run carries, so a run that lost its lease can no longer change the job.
While it works the run renews ``lease_until`` (a heartbeat); a job whose lease
expired lost its worker and is requeued by the supervisor. Times are the
writers' clocks (keep hosts on NTP; the lease is long against any skew).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database

from app.storage.mongo import utcnow


def lease_end(seconds: float) -> datetime:
    """``seconds`` from now."""
    return utcnow() + timedelta(seconds=seconds)


class JobLeases:
    """Claims, heartbeats, hand-backs and expiry of job leases (the ``jobs`` collection)."""

    def __init__(self, db: Database) -> None:
        self._jobs = db.jobs

    def claim(self, job_id: str, owner: str, worker: str, seconds: float) -> dict[str, Any] | None:
        """Take the job for ``owner`` and count the attempt; None if it is not claimable
        (ended, cancel requested, or running under a live lease)."""
        now = utcnow()
        claimable = [
            {"status": "queued"},
            {"status": "running", "lease_until": {"$lt": now}},
            {"status": "running", "lease_until": None},  # claimed before leases existed
        ]
        return self._jobs.find_one_and_update(
            {"_id": job_id, "cancel_requested": {"$ne": True}, "$or": claimable},
            {
                "$set": {
                    "status": "running",
                    "worker": worker,
                    "owner": owner,
                    "lease_until": now + timedelta(seconds=seconds),
                },
                "$currentDate": {"started_at": True},
                "$inc": {"attempts": 1},
            },
            return_document=ReturnDocument.AFTER,
        )

    def renew(self, job_id: str, attempt: int, seconds: float) -> bool:
        """Extend the lease of attempt ``attempt``; False if that attempt no longer owns it."""
        result = self._jobs.update_one(
            {"_id": job_id, "status": "running", "attempts": attempt},
            {"$set": {"lease_until": lease_end(seconds)}},
        )
        return result.matched_count == 1

    def hand_back(self, job_id: str, attempt: int) -> bool:
        """Give a running job back to the queue at once (its worker is stopping)."""
        result = self._jobs.update_one(
            {"_id": job_id, "status": "running", "attempts": attempt},
            {"$set": {"status": "queued", "owner": None, "lease_until": None, "worker": None,
                      "progress": {"stage": "queued", "percent": 0}},
             "$inc": {"handed_back": 1}},  # not a death: not counted against MAX_JOB_ATTEMPTS
        )  # fmt: skip
        return result.matched_count == 1

    def expired(self, limit: int = 500) -> list[dict[str, Any]]:
        """Running jobs whose lease has expired (their worker is gone), oldest first."""
        query = {"status": "running", "lease_until": {"$lt": utcnow()}}
        return list(self._jobs.find(query).sort("lease_until", 1).limit(limit))

    def requeue(self, job: dict[str, Any], expired_only: bool = True) -> bool:
        """Put a running job back to ``queued`` (only if nothing changed it meanwhile): one
        whose lease expired, or, ``expired_only=False``, one whose run is known dead."""
        query: dict[str, Any] = {
            "_id": job["_id"],
            "status": "running",
            "attempts": job["attempts"],
        }
        if expired_only:
            query["lease_until"] = {"$lt": utcnow()}
        result = self._jobs.update_one(
            query,
            {"$set": {"status": "queued", "owner": None, "lease_until": None, "worker": None,
                      "progress": {"stage": "queued", "percent": 0}},
             "$currentDate": {"requeued_at": True}},
        )  # fmt: skip
        return result.matched_count == 1
