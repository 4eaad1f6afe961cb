"""The ``predictions`` collection: the log of online predictions, one record per request.

Each record: ``model_id``, ``model_name``, ``model_version``, ``at``, ``latency_ms``,
``engine``, ``request_id``, ``status`` (``ok`` or ``error``), ``rows``, and for
successful requests the first rows' ``inputs`` and ``outputs``. ``expires_at`` drives a
TTL index, so records go after ``PREDICTION_LOG_DAYS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database

PUBLIC_FIELDS = {"_id": 0, "expires_at": 0}


class PredictionRepository:
    """Insert batches of prediction records; read them by model."""

    def __init__(self, db: Database) -> None:
        self._predictions = db.predictions

    def insert_many(self, records: list[dict[str, Any]]) -> None:
        """Insert ``records`` (unordered: one bad record does not stop the others)."""
        if records:
            self._predictions.insert_many(records, ordered=False)

    def recent(
        self,
        query: dict[str, Any],
        since: datetime | None = None,
        limit: int = 100,
        fields: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first: records matching ``query`` (and ``at >= since``), at most ``limit``."""
        match = dict(query)
        if since is not None:
            match["at"] = {"$gte": since}
        cursor = self._predictions.find(match, fields or PUBLIC_FIELDS)
        return list(cursor.sort("at", DESCENDING).limit(limit))
