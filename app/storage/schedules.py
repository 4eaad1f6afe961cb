"""The ``schedules`` and ``schedule_runs`` collections: scheduled retraining.

A schedule holds its cron expression and time zone, the job (or search) request it submits,
its promotion rule, whether it is paused, and ``next_run_at``, the first cron slot it has
not fired yet. A firing is a ``schedule_runs`` document whose ``_id`` is the firing key,
``<schedule id>-at-<slot>``: inserting it is what claims the firing, so a second beat, a
restart or a retried tick that reaches the same slot inserts nothing and submits nothing.
The job or search a firing submits has the firing key's id too, so a firing that crashed
between its claim and its submission is finished by a later tick without a second job.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.errors import ConflictError, NotFoundError
from app.storage.mongo import utcnow
from app.storage.pagination import Page, find_page

RECENT_RUNS = 20  # firings shown with a schedule


def firing_key(schedule_id: str, slot: datetime) -> str:
    """The id of a schedule's firing at cron ``slot`` (UTC, to the minute)."""
    return f"{schedule_id}-at-{slot.astimezone(UTC):%Y%m%dT%H%MZ}"


class ScheduleRepository:
    """Schedules and their firings."""

    def __init__(self, db: Database) -> None:
        self._schedules = db.schedules
        self._runs = db.schedule_runs

    def insert(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new schedule; ConflictError if its name is taken."""
        if self._schedules.find_one({"name": fields["name"]}, {"_id": 1}) is not None:
            raise ConflictError(
                f"A schedule named '{fields['name']}' exists.", {"name": fields["name"]}
            )
        now = utcnow()
        doc = {"_id": str(ObjectId()), **fields, "created_at": now, "updated_at": now}
        self._schedules.insert_one(doc)
        return doc

    def get(self, schedule_id: str) -> dict[str, Any]:
        """The schedule; NotFoundError if there is none."""
        doc = self._schedules.find_one({"_id": schedule_id})
        if doc is None:
            raise NotFoundError(
                f"Schedule '{schedule_id}' not found.", {"schedule_id": schedule_id}
            )
        return doc

    def list(self, page: int, limit: int, paused: bool | None = None) -> Page:
        """Schedules by name (only paused or only active ones if ``paused`` is given)."""
        query = {} if paused is None else {"paused": paused}
        return find_page(self._schedules, query, [("name", 1)], page, limit)

    def update(self, schedule_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Set ``fields``; the schedule after. NotFoundError if there is none."""
        doc = self._schedules.find_one_and_update(
            {"_id": schedule_id},
            {"$set": {**fields, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFoundError(
                f"Schedule '{schedule_id}' not found.", {"schedule_id": schedule_id}
            )
        return doc

    def delete(self, schedule_id: str) -> None:
        """Remove the schedule (its firings stay, as do the jobs they made)."""
        if self._schedules.delete_one({"_id": schedule_id}).deleted_count == 0:
            raise NotFoundError(
                f"Schedule '{schedule_id}' not found.", {"schedule_id": schedule_id}
            )

    def due(self, now: datetime) -> builtins.list[dict[str, Any]]:
        """Active schedules whose next slot has come."""
        query = {"paused": False, "next_run_at": {"$lte": now}}
        return builtins.list(self._schedules.find(query).sort("next_run_at", 1))

    def advance(self, schedule_id: str, seen: Any, next_run_at: datetime) -> bool:
        """Move ``next_run_at`` on from ``seen`` (compare-and-set: one mover wins)."""
        result = self._schedules.update_one(
            {"_id": schedule_id, "next_run_at": seen}, {"$set": {"next_run_at": next_run_at}}
        )
        return result.modified_count == 1

    # -- firings ---------------------------------------------------------------------------
    def claim(self, schedule: dict[str, Any], slot: datetime) -> dict[str, Any] | None:
        """Claim the firing of ``schedule`` at ``slot``: the new run, or None if it exists."""
        run = {
            "_id": firing_key(schedule["_id"], slot),
            "schedule_id": schedule["_id"],
            "scheduled_for": slot,
            "fired_at": utcnow(),
            "outcome": "firing",
            "job_id": None,
            "search_id": None,
            "reason": None,
            "promotion": None,
        }
        try:
            self._runs.insert_one(run)
        except DuplicateKeyError:
            return None
        return run

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        """One firing, or None."""
        return self._runs.find_one({"_id": run_id})

    def settle(self, run_id: str, fields: dict[str, Any]) -> None:
        """Record what a firing did (``outcome`` and the job, search or reason)."""
        self._runs.update_one({"_id": run_id}, {"$set": fields})

    def release(self, run_id: str) -> None:
        """Drop a claim whose submission could not be made (the queue was down): the next
        tick claims the same slot again."""
        self._runs.delete_one({"_id": run_id, "outcome": "firing"})

    def stuck(self, before: datetime) -> builtins.list[dict[str, Any]]:
        """Firings claimed before ``before`` and never settled (a crash in between)."""
        return builtins.list(self._runs.find({"outcome": "firing", "fired_at": {"$lt": before}}))

    def awaiting_promotion(self) -> builtins.list[dict[str, Any]]:
        """Submitted firings whose promotion rule has not been decided yet."""
        query = {"outcome": "submitted", "promotion": {"$eq": None}}
        return builtins.list(self._runs.find(query).sort("fired_at", 1).limit(100))

    def decide(self, run_id: str, promotion: dict[str, Any]) -> bool:
        """Record the promotion decision of a firing, once (compare-and-set)."""
        result = self._runs.update_one(
            {"_id": run_id, "promotion": {"$eq": None}}, {"$set": {"promotion": promotion}}
        )
        return result.modified_count == 1

    def recent_runs(self, schedule_id: str, limit: int = RECENT_RUNS) -> builtins.list[dict]:
        """The schedule's latest firings, newest first."""
        cursor = self._runs.find({"schedule_id": schedule_id}).sort("scheduled_for", -1)
        return builtins.list(cursor.limit(limit))


def public_schedule(doc: dict[str, Any], runs: builtins.list[dict] | None = None) -> dict:
    """A schedule as the API shows it (with its recent firings when given)."""
    body = {"schedule_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
    if runs is not None:
        body["runs"] = [public_run(run) for run in runs]
    return body


def public_run(doc: dict[str, Any]) -> dict[str, Any]:
    """A firing as the API shows it."""
    return {"run_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
