"""The ``jobs`` collection: every training job and its life cycle.

State machine (``app.statuses``; the worker owns every change after ``queued``)::

    queued ──claim──▶ running ──▶ succeeded | failed | cancelled
      └──────── cancel (API, only while queued) ──▶ cancelled

Each transition is one conditional update, so two actors never both win. The
document's shape lives here too: ``new_job_document`` builds it and
``public_job`` is what clients see of it.
"""

from __future__ import annotations

import builtins
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database

from app.errors import NotFoundError
from app.statuses import ACTIVE, STATUSES
from app.storage.mongo import utcnow
from app.storage.pagination import Page, Window, find_page, find_window

_INTERNAL = ("_id", "cancel_requested", "queue", "owner")  # stored, never shown


def new_job_document(
    *,
    dataset: dict[str, Any],
    algorithm: str,
    model_name: str,
    hyperparameters: dict[str, Any],
    target: str,
    task: str,
    test_size: float,
    random_state: int | None,
    queue: str,
) -> dict[str, Any]:
    """The ``queued`` training job document for a validated request on ``dataset``."""
    return {
        "_id": str(ObjectId()),  # time-ordered, so ties in created_at keep creation order
        "kind": "train",
        "status": "queued",
        "queue": queue,
        "dataset": dataset["name"],
        "dataset_version": dataset["version"],
        "algorithm": algorithm,
        "model_name": model_name,
        "hyperparameters": hyperparameters,
        "target": target,
        "task": task,
        "test_size": test_size,
        "random_state": random_state,
        **_lifecycle(),
    }


def new_prediction_job_document(
    *, model: dict[str, Any], dataset: dict[str, Any], proba: bool, queue: str
) -> dict[str, Any]:
    """The ``queued`` batch prediction job of ``model`` (pinned to its id and version) on
    ``dataset`` (pinned to its version)."""
    return {
        "_id": str(ObjectId()),
        "kind": "predict",
        "status": "queued",
        "queue": queue,
        "dataset": dataset["name"],
        "dataset_version": dataset["version"],
        "algorithm": model["algorithm"],
        "model_name": model["name"],
        "model": {"id": model["_id"], "name": model["name"], "version": model["version"]},
        "hyperparameters": {},
        "task": model["task"],
        "proba": proba,
        **_lifecycle(),
    }


def new_trial_job_document(
    search: dict[str, Any],
    index: int,
    hyperparameters: dict[str, Any],
    queue: str,
    *,
    rung: int | None = None,
    n_resources: int | None = None,
    keep: bool = False,
    threads: int = 1,
) -> dict[str, Any]:
    """The ``queued`` job of candidate ``index`` of ``search`` (id derived from both): on
    ``n_resources`` training rows (halving ``rung``; all rows if None), registering its
    model if ``keep``, fitting up to ``threads`` folds at once."""
    return {
        "_id": f"{search['_id']}-trial-{index}",
        "kind": "trial",
        "status": "queued",
        "queue": queue,
        "search_id": search["_id"],
        "trial": index,
        "dataset": search["dataset"],
        "dataset_version": search["dataset_version"],
        "algorithm": search["algorithm"],
        "model_name": search["model_name"],
        "hyperparameters": hyperparameters,
        "params": search["candidates"][index],
        "target": search["target"],
        "task": search["task"],
        "test_size": search["test_size"],
        "random_state": search["random_state"],
        "cv": search["cv"],
        "metric": search["metric"],
        "rung": rung,
        "n_resources": n_resources,
        "keep": keep,
        "threads": threads,
        **({"schedule_id": search["schedule_id"]} if search.get("schedule_id") else {}),
        **_lifecycle(),
    }


def _lifecycle() -> dict[str, Any]:
    """The fields every new job starts with (its state, progress, attempts, lease)."""
    return {
        "progress": {"stage": "queued", "percent": 0},
        "created_at": utcnow(),
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "worker": None,
        "owner": None,
        "lease_until": None,
        "result": None,
        "error": None,
        "cancel_requested": False,
    }


def job_result(model: dict[str, Any]) -> dict[str, Any]:
    """The ``result`` field of a job that produced ``model``."""
    return {"model_id": model["_id"], "version": model["version"], "metrics": model["metrics"]}


def public_job(doc: dict[str, Any]) -> dict[str, Any]:
    """A job as clients see it: ``job_id`` first, internal fields dropped."""
    return {"job_id": doc["_id"], **{k: v for k, v in doc.items() if k not in _INTERNAL}}


class JobRepository:
    """Reads and conditional writes of job documents (``_id`` is the job id)."""

    def __init__(self, db: Database) -> None:
        self._jobs = db.jobs

    def insert(self, job: dict[str, Any]) -> None:
        """Store a new job document (``_id`` set by the caller)."""
        self._jobs.insert_one(job)

    def get(self, job_id: str) -> dict[str, Any]:
        """The job document; NotFoundError if there is none."""
        job = self._jobs.find_one({"_id": job_id})
        if job is None:
            raise NotFoundError(f"Job '{job_id}' not found.", {"job_id": job_id})
        return job

    def find(self, job_id: str) -> dict[str, Any] | None:
        """The job document or None."""
        return self._jobs.find_one({"_id": job_id})

    def list(self, filters: dict[str, Any], page: int, limit: int) -> Page:
        """Jobs matching ``filters`` (exact fields), newest first."""
        query = {key: value for key, value in filters.items() if value is not None}
        return find_page(self._jobs, query, [("created_at", -1), ("_id", -1)], page, limit)

    def delete(self, job_id: str) -> None:
        """Forget a job that was never published (enqueue failed)."""
        self._jobs.delete_one({"_id": job_id})

    def record_progress(self, job_id: str, attempt: int, stage: str, percent: int) -> bool:
        """Record where attempt ``attempt`` of a running job is: False if it must stop (a
        cancel was requested, or the attempt no longer owns the job)."""
        result = self._jobs.update_one(
            {
                "_id": job_id,
                "status": "running",
                "attempts": attempt,
                "cancel_requested": {"$ne": True},
            },
            {"$set": {"progress": {"stage": stage, "percent": percent}}},
        )
        return result.matched_count == 1

    def is_cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked this job to stop."""
        job = self._jobs.find_one({"_id": job_id}, {"cancel_requested": 1})
        return bool(job and job.get("cancel_requested"))

    def finish(
        self, job_id: str, status: str, attempt: int | None = None, **fields: Any
    ) -> dict[str, Any] | None:
        """Move an active job to a final ``status``: the ended job, or None if it had ended
        (or, with ``attempt``, if that attempt no longer owns it: the write is fenced)."""
        update = {"status": status, "owner": None, "lease_until": None, **fields}
        if status == "succeeded":
            update["progress"] = {"stage": "done", "percent": 100}
        query: dict[str, Any] = {"_id": job_id, "status": {"$in": list(ACTIVE)}}
        if attempt is not None:
            query["attempts"] = attempt
        return self._jobs.find_one_and_update(
            query,
            {"$set": update, "$currentDate": {"finished_at": True}},
            return_document=ReturnDocument.AFTER,
        )

    def fail(
        self, job_id: str, error_type: str, message: str, attempt: int | None = None
    ) -> dict[str, Any] | None:
        """End a job as failed with a typed error (``cancelled`` ends it cancelled)."""
        status = "cancelled" if error_type == "cancelled" else "failed"
        error = {"type": error_type, "message": message}
        return self.finish(job_id, status, attempt, error=error)

    def request_cancel(self, job_id: str) -> dict[str, Any] | None:
        """Flag an active job for cancellation; a queued one ends cancelled at once."""
        cancelled = {"type": "cancelled", "message": "Cancelled by request."}
        job = self._jobs.find_one_and_update(
            {"_id": job_id, "status": "queued"},
            {
                "$set": {"status": "cancelled", "cancel_requested": True, "error": cancelled},
                "$currentDate": {"finished_at": True},
            },
            return_document=ReturnDocument.AFTER,
        )
        if job is not None:
            return job
        return self._jobs.find_one_and_update(
            {"_id": job_id, "status": "running"},
            {"$set": {"cancel_requested": True}},
            return_document=ReturnDocument.AFTER,
        )

    def count_by_status(self) -> dict[str, int]:
        """How many jobs are in each status (every status present, zero if none)."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self._jobs.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            counts[row["_id"]] = row["n"]
        return counts

    def of_search(
        self,
        search_id: str,
        include_refit: bool = False,
        projection: dict[str, Any] | None = None,
    ) -> builtins.list[dict]:
        """The trial jobs of a search in trial order (and its refit job, if asked), with
        only the fields of ``projection`` if given."""
        kinds = ["trial", "train"] if include_refit else ["trial"]
        query = {"search_id": search_id, "kind": {"$in": kinds}}
        return builtins.list(self._jobs.find(query, projection).sort("trial", 1))

    def active_by_queue(self) -> dict[str, int]:
        """How many jobs are queued or running, per queue (from the jobs' own documents, so
        the running ones count too; one find of two fields over the active jobs)."""
        counts: dict[str, int] = {}
        query = {"status": {"$in": ["queued", "running"]}}
        for job in self._jobs.find(query, {"_id": 0, "queue": 1}):
            queue = job.get("queue") or "training"  # jobs stored before queues had names
            counts[queue] = counts.get(queue, 0) + 1
        return counts

    def oldest_queued(self, queue: str) -> dict[str, Any] | None:
        """The oldest job still waiting on ``queue``."""
        cursor = self._jobs.find({"status": "queued", "queue": queue}).sort("created_at", 1)
        return next(iter(cursor.limit(1)), None)

    def queued_before(self, moment: Any, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """Jobs still queued that were created (or requeued) before ``moment``."""
        query = {
            "status": "queued",
            "$or": [
                {"requeued_at": {"$lt": moment}},
                {"requeued_at": None, "created_at": {"$lt": moment}},
            ],
        }
        return list(self._jobs.find(query).sort("created_at", 1).limit(limit))

    def find_window(
        self,
        query: dict[str, Any],
        sort: builtins.list[tuple[str, int]],
        page: int,
        limit: int,
        projection: dict[str, Any] | None = None,
    ) -> Window:
        """A page of the jobs matching the MongoDB ``query`` in ``sort`` order, with only
        the fields of ``projection`` (the UI's lists: no count of the matches)."""
        return find_window(self._jobs, query, sort, page, limit, projection)

    def find_many(
        self, job_ids: builtins.list[str], projection: dict[str, Any] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The jobs of ``job_ids`` that exist (one query), in no particular order."""
        return builtins.list(self._jobs.find({"_id": {"$in": job_ids}}, projection))

    def trial_counts(self, search_ids: builtins.list[str]) -> dict[str, dict[str, int]]:
        """Per search of ``search_ids``: how many of its trials are in each status.

        Counted here from two fields of each trial (one indexed find; a search has at most
        a thousand trials) rather than by a ``$group``, which the local stack's MongoDB
        stand-in runs as a scan of the whole collection (0.8 s with 10,000 jobs)."""
        query = {"search_id": {"$in": search_ids}, "kind": "trial"}
        counts: dict[str, dict[str, int]] = {}
        for trial in self._jobs.find(query, {"_id": 0, "search_id": 1, "status": 1}):
            statuses = counts.setdefault(trial["search_id"], {})
            statuses[trial["status"]] = statuses.get(trial["status"], 0) + 1
        return counts
