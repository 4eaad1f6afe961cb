"""The ``idempotency`` collection: one record per (API key, Idempotency-Key).

``_id`` is unique, so of concurrent requests with one key exactly one claims it.
A record is ``pending`` while its request runs, then ``done`` with the answer to
replay. Records expire (``expires_at``, a TTL index; also checked on read); a
``pending`` record older than ``STALE_SECONDS`` (its process died) may be taken over.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.storage.mongo import utcnow

STALE_SECONDS = 120


class IdempotencyRepository:
    """Claims, answers and expiry of idempotency keys."""

    def __init__(self, db: Database) -> None:
        self._records = db.idempotency

    def claim(self, record_id: str, fingerprint: str, keep_hours: float) -> dict[str, Any] | None:
        """Claim ``record_id`` for a new request: None if claimed, else the record that holds it."""
        now = utcnow()
        record = {
            "_id": record_id,
            "fingerprint": fingerprint,
            "state": "pending",
            "created_at": now,
            "expires_at": now + timedelta(hours=keep_hours),
        }
        try:
            self._records.insert_one(record)
            return None
        except DuplicateKeyError:
            pass
        stale = {"$or": [{"expires_at": {"$lte": now}}, _stale_pending(now)]}
        taken = self._records.find_one_and_replace({"_id": record_id, **stale}, record)
        if taken is not None:
            return None
        return self._records.find_one({"_id": record_id})

    def find(self, record_id: str) -> dict[str, Any] | None:
        """The record of ``record_id``, if any."""
        return self._records.find_one({"_id": record_id})

    def complete(self, record_id: str, answer: dict[str, Any]) -> None:
        """Store the answer of the request that claimed ``record_id``."""
        self._records.update_one({"_id": record_id}, {"$set": {"state": "done", "answer": answer}})

    def release(self, record_id: str) -> None:
        """Forget a claim whose request failed on the server's side (a retry may run)."""
        self._records.delete_one({"_id": record_id, "state": "pending"})


def _stale_pending(now: Any) -> dict[str, Any]:
    return {"state": "pending", "created_at": {"$lte": now - timedelta(seconds=STALE_SECONDS)}}
