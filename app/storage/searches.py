"""The ``searches`` collection: hyperparameter searches and their advancement.

A search document holds its validated request, the ``candidates`` asked so far (grid and
random searches know them all up front; a halving search adds each rung's survivors when
the rung before it ended, a Bayesian search asks one candidate at a time), ``asked`` (how
many), ``total`` (how many trials the search will run) and ``launched``, how many of the
candidates have a trial job. Candidates are only appended, by a compare-and-set on
``asked``, so two processes advancing the same search agree on every candidate.
Trials are jobs (``kind: "trial"``) whose id is derived from the search and the
candidate's index, so launching a candidate twice inserts nothing the second time, and
``launched`` only moves forward by a compare-and-set after the trial's insert: a crash in
between makes the next advance retry the same index, never skip it.
"""

from __future__ import annotations

import builtins
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database

from app.errors import NotFoundError
from app.storage.mongo import utcnow
from app.storage.pagination import Page, find_page

_INTERNAL = ("_id", "candidates", "candidate_rungs", "scorer")


def new_search_document(
    request: dict[str, Any],
    candidates: list[dict[str, Any]],
    total: int,
    rungs: list[dict[str, int]] | None = None,
) -> dict:
    """The running search of a validated ``request`` (a dict of its fields) that will run
    ``total`` trials, the first ones ``candidates``; ``rungs`` (halving): each rung's
    ``size`` and ``resources``, the first rung being ``candidates``."""
    now = utcnow()
    return {
        "_id": str(ObjectId()),
        "status": "running",
        **request,
        "candidates": candidates,
        "asked": len(candidates),
        "total": total,
        "rungs": rungs,
        "candidate_rungs": [0] * len(candidates) if rungs else None,
        "launched": 0,
        "best": None,
        "refit_job_id": None,
        "model_id": None,
        "created_at": now,
        "started_at": now,
        "finished_at": None,
        "error": None,
    }


def trial_job_id(search_id: str, index: int) -> str:
    """The job id of candidate ``index`` of a search."""
    return f"{search_id}-trial-{index}"


def public_search(doc: dict[str, Any]) -> dict[str, Any]:
    """A search as clients see it (``search_id`` first; candidates not listed)."""
    return {"search_id": doc["_id"], **{k: v for k, v in doc.items() if k not in _INTERNAL}}


class SearchRepository:
    """Search documents: insert, read, advance (compare-and-set), end."""

    def __init__(self, db: Database) -> None:
        self._searches = db.searches

    def insert(self, search: dict[str, Any]) -> None:
        """Store a new search."""
        self._searches.insert_one(search)

    def find(self, search_id: str) -> dict[str, Any] | None:
        """The search, or None."""
        return self._searches.find_one({"_id": search_id})

    def get(self, search_id: str) -> dict[str, Any]:
        """The search; NotFoundError if absent."""
        doc = self._searches.find_one({"_id": search_id})
        if doc is None:
            raise NotFoundError(f"Search '{search_id}' not found.", {"search_id": search_id})
        return doc

    def list(self, filters: dict[str, Any], page: int, limit: int) -> Page:
        """A page of searches, newest first (``filters``: None values ignored)."""
        query = {k: v for k, v in filters.items() if v is not None}
        sort = [("created_at", -1), ("_id", -1)]
        return find_page(self._searches, query, sort, page, limit, {"candidates": 0})

    def launched_one(self, search_id: str, index: int) -> bool:
        """Move ``launched`` from ``index`` to ``index + 1`` (False if another did)."""
        result = self._searches.update_one(
            {"_id": search_id, "status": "running", "launched": index},
            {"$set": {"launched": index + 1}},
        )
        return result.modified_count == 1

    def extend(
        self,
        search: dict[str, Any],
        more: builtins.list[dict[str, Any]],
        *,
        rung: int | None = None,
        total: int | None = None,
    ) -> bool:
        """Append candidates ``more`` (of halving rung ``rung``) to ``search`` as read, if
        no other process extended it since (its ``asked`` still holds), optionally setting
        ``total``; False if another did. (The lists are rewritten whole: a search has at
        most 1,000 trials, and the compare-and-set on ``asked`` makes that safe.)"""
        asked = search["asked"]
        change: dict[str, Any] = {"asked": asked + len(more)}
        if more:
            change["candidates"] = [*search["candidates"], *more]
            if rung is not None:
                change["candidate_rungs"] = [*search["candidate_rungs"], *[rung] * len(more)]
        if total is not None:
            change["total"] = total
        result = self._searches.update_one(
            {"_id": search["_id"], "status": "running", "asked": asked}, {"$set": change}
        )
        return result.modified_count == 1

    def set_refit(self, search_id: str, job_id: str, best: dict[str, Any]) -> None:
        """Record the best trial and the job that refits it on all training rows."""
        self._searches.update_one(
            {"_id": search_id, "status": "running"},
            {"$set": {"refit_job_id": job_id, "best": best}},
        )

    def end(
        self, search_id: str, status: str, *, from_status: str = "running", **fields: Any
    ) -> dict[str, Any] | None:
        """End a search (only from ``from_status``): the ended search, or None."""
        return self._searches.find_one_and_update(
            {"_id": search_id, "status": from_status},
            {"$set": {"status": status, **fields}, "$currentDate": {"finished_at": True}},
            return_document=ReturnDocument.AFTER,
        )

    def running(self, limit: int = 200) -> builtins.list[dict[str, Any]]:
        """Running searches (the supervisor advances any a lost message left behind)."""
        return builtins.list(self._searches.find({"status": "running"}, {"_id": 1}).limit(limit))
