"""The ``uploads`` collection: model files being written, so a dead run's leftovers are found.

A run records its upload (file id, job, attempt) before the first chunk is
written and drops the record once the model is committed. A record whose run
can no longer commit (the job ended, or another attempt owns it, or its lease
expired) marks an orphan: the supervisor deletes the file and the record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo.database import Database

from app.storage.mongo import utcnow


class UploadRepository:
    """Records of model uploads in progress."""

    def __init__(self, db: Database) -> None:
        self._uploads = db.uploads

    def start(self, file_id: Any, job_id: str, attempt: int) -> None:
        """Record that attempt ``attempt`` of ``job_id`` writes ``file_id`` (idempotent)."""
        self._uploads.update_one(
            {"_id": file_id},
            {"$setOnInsert": {"job_id": job_id, "attempt": attempt, "started_at": utcnow()}},
            upsert=True,
        )

    def done(self, file_id: Any) -> None:
        """The upload was committed (or removed): forget it."""
        self._uploads.delete_one({"_id": file_id})

    def older_than(self, seconds: float, limit: int = 500) -> list[dict[str, Any]]:
        """Records of uploads started more than ``seconds`` ago."""
        cutoff = utcnow() - timedelta(seconds=seconds)
        return list(self._uploads.find({"started_at": {"$lt": cutoff}}).limit(limit))
