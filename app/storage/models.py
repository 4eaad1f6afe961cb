"""The ``models`` collection: versioned metadata of every trained model.

Inserting the model document is the commit point of a training job: the
artifact is uploaded first, and a job that runs twice finds its model by the
unique ``job_id`` index instead of creating a second version. Versions come
from an atomic per-name counter, so concurrent jobs of one name never collide
and a deleted version number is never reused. The document's shape lives here:
``new_model_document`` builds it and ``public_model`` is what clients see.
"""

from __future__ import annotations

import builtins
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.errors import NotFoundError
from app.storage.artifacts import ArtifactStore
from app.storage.mongo import utcnow
from app.storage.pagination import Page, Window, find_page, find_window
from app.storage.signing import Signer

SORTS = {
    "-created_at": [("created_at", -1), ("_id", -1)],
    "created_at": [("created_at", 1), ("_id", 1)],
    "-score": [("score", -1), ("created_at", -1)],
    "score": [("score", 1), ("created_at", -1)],
    "name": [("name", 1), ("version", -1)],
    "-version": [("version", -1), ("created_at", -1)],
}


def new_model_document(
    job: dict[str, Any],
    dataset: dict[str, Any],
    *,
    version: int,
    trained: dict[str, Any],
    file: dict[str, Any],
) -> dict[str, Any]:
    """The model document a finished run of ``job`` commits.

    ``trained`` holds what training produced (``hyperparameters``, ``metrics``,
    ``score``, ``features``, ``classes``, library versions, ``formats``); ``file`` the
    stored joblib file's ``file_id``, ``sha256`` and ``size_bytes`` (also kept as
    ``formats.joblib``; ``formats.onnx`` says whether an ONNX copy exists, see
    ``app.ml.onnx_format``).
    """
    return {
        "_id": str(ObjectId()),  # time-ordered, so ties in created_at keep creation order
        "name": job["model_name"],
        "version": version,
        "algorithm": job["algorithm"],
        **trained,
        "formats": {"joblib": dict(file), **trained.get("formats", {})},
        "dataset_name": dataset["name"],
        "dataset_version": dataset["version"],
        "target": job["target"],
        "task": job["task"],
        "job_id": job["_id"],
        **({"search_id": job["search_id"]} if job.get("search_id") else {}),
        **file,
        "tags": {},
        "description": "",
        "created_at": utcnow(),
    }


# Left out of model listings (a page of 100 would carry ~0.5 MB of them): the training
# rows' summary and the ROC / precision-recall points; ``GET /models/<ref>`` has the curves.
LISTING_OMITS = {"training_profile": 0, "curves": 0}


def public_model(doc: dict[str, Any]) -> dict[str, Any]:
    """A model's metadata as clients see it, with a link to download its artifact (the
    training rows' summary is served by ``/models/<name>/monitoring``)."""
    hidden = ("_id", "file_id", "training_profile")
    body = {key: value for key, value in doc.items() if key not in hidden}
    return {
        "model_id": doc["_id"],
        "tags": {},
        "description": "",
        "aliases": [],
        **body,
        "file_id": str(doc["file_id"]),
        "download_url": f"/api/v1/models/{doc['_id']}/download",
    }


def artifact_id(job_id: str, attempt: int, fmt: str = "joblib") -> str:
    """The GridFS id of the model file (``fmt``: joblib or onnx) of try ``attempt`` of a job."""
    return f"model:{job_id}:{attempt}" if fmt == "joblib" else f"{fmt}:{job_id}:{attempt}"


def model_file_ids(model: dict[str, Any]) -> builtins.list[Any]:
    """Every GridFS file a model document owns (its joblib file, and its ONNX file if any)."""
    onnx = (model.get("formats") or {}).get("onnx") or {}
    return [model["file_id"]] + ([onnx["file_id"]] if onnx.get("file_id") else [])


class ModelRepository:
    """Model documents, their version counters and their GridFS artifacts (reading or writing
    a file needs ``signer``; deleting does not)."""

    def __init__(self, db: Database, signer: Signer | None = None) -> None:
        self._models = db.models
        self._counters = db.counters
        self.artifacts = ArtifactStore(db, signer)

    def next_version(self, name: str) -> int:
        """Atomically take the next version number of model ``name``."""
        counter = self._counters.find_one_and_update(
            {"_id": f"model:{name}"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None  # upsert=True with AFTER always returns the document
        return int(counter["seq"])

    def commit(self, model: dict[str, Any]) -> dict[str, Any]:
        """Insert a model document; if its job already committed one, return that instead."""
        try:
            self._models.insert_one(model)
            return model
        except DuplicateKeyError:
            existing = self.find_by_job(model["job_id"])
            if existing is None:
                raise
            return existing

    def find_by_job(self, job_id: str) -> dict[str, Any] | None:
        """The model a job produced, if it committed one."""
        return self._models.find_one({"job_id": job_id})

    def get(self, model_id: str) -> dict[str, Any]:
        """The model document; NotFoundError if absent."""
        model = self._models.find_one({"_id": model_id})
        if model is None:
            raise NotFoundError(f"Model '{model_id}' not found.", {"model_id": model_id})
        return model

    def find(self, model_id: str) -> dict[str, Any] | None:
        """The model document or None."""
        return self._models.find_one({"_id": model_id})

    def find_version(self, name: str, version: int) -> dict[str, Any] | None:
        """Version ``version`` of model ``name``, or None."""
        return self._models.find_one({"name": name, "version": version})

    def latest(self, name: str) -> dict[str, Any] | None:
        """The highest version of model ``name``, or None."""
        return next(iter(self._models.find({"name": name}).sort("version", -1).limit(1)), None)

    def versions(self, name: str) -> builtins.list[int]:
        """Every version number of model ``name``, ascending."""
        docs = self._models.find({"name": name}, {"version": 1}).sort("version", 1)
        return [int(doc["version"]) for doc in docs]

    def find_page(self, query: dict[str, Any], sort: str, page: int, limit: int) -> Page:
        """Models matching the MongoDB ``query`` in one of the ``SORTS`` orders, without
        the fields only a single model's page shows (``LISTING_OMITS``)."""
        return find_page(self._models, query, SORTS[sort], page, limit, LISTING_OMITS)

    def update_labels(
        self, model_id: str, tags: dict[str, str], description: str
    ) -> dict[str, Any]:
        """Set a model's tags and description; the model after."""
        doc = self._models.find_one_and_update(
            {"_id": model_id},
            {"$set": {"tags": tags, "description": description}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFoundError(f"Model '{model_id}' not found.", {"model_id": model_id})
        return doc

    def settle_export(self, model_id: str, record: dict[str, Any]) -> bool:
        """Set ``formats.onnx`` to ``record`` if it is still pending (False otherwise)."""
        result = self._models.update_one(
            {"_id": model_id, "formats.onnx.status": "pending"},
            {"$set": {"formats.onnx": record}},
        )
        return result.modified_count == 1

    def pending_exports(self, before: Any, limit: int = 100) -> builtins.list[str]:
        """Ids of models created before ``before`` whose ONNX copy is still pending."""
        query = {"formats.onnx.status": "pending", "created_at": {"$lt": before}}
        return [doc["_id"] for doc in self._models.find(query, {"_id": 1}).limit(limit)]

    def quarantine(self, model: dict[str, Any], reason: str) -> None:
        """Mark a model whose file failed verification: it is refused from now on."""
        quarantined = {"at": utcnow(), "reason": reason}
        self._models.update_one({"_id": model["_id"]}, {"$set": {"quarantined": quarantined}})

    def delete(self, model_id: str) -> None:
        """Remove a model's document, then its file (a crash in between leaves no dangling doc)."""
        model = self.get(model_id)
        self._models.delete_one({"_id": model_id})
        for file_id in model_file_ids(model):
            self.artifacts.delete(file_id)

    def discard_try(self, job_id: str, attempt: int) -> None:
        """Delete what try ``attempt`` of a job uploaded, unless it is the committed file."""
        committed = self.find_by_job(job_id)
        kept = model_file_ids(committed) if committed else []
        for fmt in ("joblib", "onnx"):
            if (file_id := artifact_id(job_id, attempt, fmt)) not in kept:
                self.artifacts.delete(file_id)

    def discard_uncommitted(self, job_id: str, attempts: int) -> int:
        """Delete what a job's tries uploaded without committing a model; how many files.

        Finished uploads are found by metadata; an upload cut short by a dying worker has
        chunks but no files document, and is found by its per-try id instead.
        """
        if self.find_by_job(job_id) is not None:
            return 0
        for attempt in range(1, attempts + 1):
            for fmt in ("joblib", "onnx"):
                self.artifacts.delete(artifact_id(job_id, attempt, fmt))
        return self.artifacts.delete_where({"kind": "model", "job_id": job_id})

    def count(self) -> int:
        """How many models are stored."""
        return self._models.count_documents({})

    def count_by(self, field: str) -> dict[str, int]:
        """How many models have each value of ``field``."""
        rows = self._models.aggregate([{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}])
        return {row["_id"]: row["n"] for row in rows}

    def score_summary(self, task: str) -> dict[str, dict[str, Any]]:
        """Per algorithm of ``task``'s models: how many, best and mean ``score``."""
        group = {
            "_id": "$algorithm",
            "count": {"$sum": 1},
            "best": {"$max": "$score"},
            "mean": {"$avg": "$score"},
        }
        rows = self._models.aggregate([{"$match": {"task": task}}, {"$group": group}])
        return {
            row["_id"]: {
                "count": row["count"],
                "best": row["best"],
                "mean": round(row["mean"], 6) if row["mean"] is not None else None,
            }
            for row in rows
        }

    def find_window(
        self,
        query: dict[str, Any],
        sort: builtins.list[tuple[str, int]],
        page: int,
        limit: int,
        projection: dict[str, Any] | None = None,
    ) -> Window:
        """A page of the models matching the MongoDB ``query`` in any ``sort`` order (e.g.
        by a metric), with only the fields of ``projection`` (the UI: no count)."""
        return find_window(self._models, query, sort, page, limit, projection)

    def find_many(
        self, model_ids: builtins.list[str], projection: dict[str, Any] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The models of ``model_ids`` that exist (one query), in no particular order."""
        return builtins.list(self._models.find({"_id": {"$in": model_ids}}, projection))

    def version_ids(self, name: str) -> builtins.list[dict[str, Any]]:
        """``{"_id", "version"}`` of every version of model ``name``, newest first."""
        return builtins.list(self._models.find({"name": name}, {"version": 1}).sort("version", -1))
