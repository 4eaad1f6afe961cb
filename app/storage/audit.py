"""The ``audit`` collection: one record per mutating or refused request, and integrity events.

Records are append-only; the API lists them to admins (``GET /api/v1/audit``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from app.storage.mongo import utcnow
from app.storage.pagination import Page, find_page


def new_audit_record(**fields: Any) -> dict[str, Any]:
    """An audit record stamped now: ``event``, ``key_id``, ``key_name``, ``method``,
    ``route``, ``path``, ``status``, ``client``, ``request_id``, ``touched``…"""
    return {"_id": str(ObjectId()), "at": utcnow(), **fields}


def public_audit_record(doc: dict[str, Any]) -> dict[str, Any]:
    """An audit record as the API shows it."""
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


class AuditRepository:
    """Append-only audit records."""

    def __init__(self, db: Database) -> None:
        self._audit = db.audit

    def insert(self, record: dict[str, Any]) -> None:
        """Append one record (built by ``new_audit_record``)."""
        self._audit.insert_one(record)

    def list(
        self,
        *,
        key_id: str | None,
        since: datetime | None,
        until: datetime | None,
        status: int | None,
        page: int,
        limit: int,
    ) -> Page:
        """Records matching the filters, newest first."""
        query: dict[str, Any] = {}
        if key_id is not None:
            query["key_id"] = key_id
        if status is not None:
            query["status"] = status
        if since is not None or until is not None:
            query["at"] = {op: moment for op, moment in (("$gte", since), ("$lt", until)) if moment}
        return find_page(self._audit, query, [("at", -1), ("_id", -1)], page, limit)
