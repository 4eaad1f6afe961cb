"""The store's invariants, checked: what ``python -m app.fsck`` reports to operators.

- every job is terminal, queued, or running under a live lease;
- a succeeded training job has exactly one model, and it is the one its result names;
  a job that did not succeed has none; a batch prediction job has none, and when it
  succeeded its result names its output file; a search trial has none;
- no two models share ``(name, version)``;
- every model's (joblib and ONNX), dataset's and prediction output's file is there,
  complete, and matches its signature;
- no GridFS file or chunk belongs to nothing (a model, a dataset, a succeeded batch
  prediction, or an upload a live run may still commit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from app.errors import IntegrityError, NotFoundError
from app.statuses import FINISHED
from app.storage.artifacts import ArtifactStore
from app.storage.models import artifact_id, model_file_ids
from app.storage.mongo import utcnow
from app.storage.outputs import committed_output, output_id
from app.storage.signing import Signer


@dataclass(frozen=True)
class Violation:
    """One broken invariant: what kind, about which document, and why."""

    kind: str
    subject: str
    detail: str


def check_store(db: Database, signer: Signer, verify_files: bool = True) -> list[Violation]:
    """Every violated invariant of ``db`` (empty: the store is consistent)."""
    models = list(db.models.find({}, {"metrics": 0, "hyperparameters": 0}))
    found = [*_jobs(db, models), *_duplicates(models), *_orphans(db, models)]
    if verify_files:
        found += _files(db, signer, models)
    return found


def _jobs(db: Database, models: list[dict[str, Any]]) -> Iterator[Violation]:
    by_job = Counter(model["job_id"] for model in models)
    now = utcnow()
    for job in db.jobs.find({}, {"status": 1, "lease_until": 1, "result": 1, "kind": 1}):
        job_id, status = job["_id"], job["status"]
        lease = job.get("lease_until")
        if status == "running" and (lease is None or lease < now):
            yield Violation("job_unowned", job_id, "running without a live lease")
        if job.get("kind") in ("predict", "trial"):  # jobs that make no model
            if by_job[job_id]:
                yield Violation("job_models", job_id, f"a {job['kind']} job with a model")
            if job["kind"] == "predict" and status == "succeeded" and not committed_output(job):
                yield Violation("job_output", job_id, "succeeded without an output file")
        elif status == "succeeded":
            if by_job[job_id] != 1:
                yield Violation("job_models", job_id, f"succeeded with {by_job[job_id]} models")
            elif not any(m["_id"] == (job.get("result") or {}).get("model_id") for m in models):
                yield Violation("job_models", job_id, "its result names another model")
        elif status in FINISHED and by_job[job_id]:
            yield Violation("job_models", job_id, f"{status} but has {by_job[job_id]} models")


def _duplicates(models: list[dict[str, Any]]) -> Iterator[Violation]:
    versions = Counter((model["name"], model["version"]) for model in models)
    for (name, version), count in versions.items():
        if count > 1:
            yield Violation("duplicate_version", f"{name}@v{version}", f"{count} models")


def _files(db: Database, signer: Signer, models: list[dict[str, Any]]) -> Iterator[Violation]:
    store = ArtifactStore(db, signer)
    owners = [("model", m["_id"], file_id) for m in models for file_id in model_file_ids(m)]
    owners += [
        ("dataset", f"{d['name']}@v{d['version']}", d["file_id"]) for d in db.datasets.find()
    ]
    owners += [("output", job["_id"], committed_output(job)) for job in _predictions(db)]
    for kind, subject, file_id in owners:
        try:
            for _chunk in store.open(file_id).chunks():
                pass
        except NotFoundError:
            yield Violation(f"{kind}_file", str(subject), "its file is missing")
        except IntegrityError as error:
            yield Violation(f"{kind}_file", str(subject), error.message)


def _orphans(db: Database, models: list[dict[str, Any]]) -> Iterator[Violation]:
    owned = {file_id for m in models for file_id in model_file_ids(m)}
    owned |= {d["file_id"] for d in db.datasets.find()}
    owned |= {committed_output(job) for job in _predictions(db)}
    owned |= {u["_id"] for u in db.uploads.find() if _live_upload(db, u)}
    for doc in db["fs.files"].find({}, {"_id": 1}):
        if doc["_id"] not in owned:
            yield Violation("orphan_file", str(doc["_id"]), "a file no model or dataset owns")
    files = {doc["_id"] for doc in db["fs.files"].find({}, {"_id": 1})}
    for file_id in _chunk_owners(db) - files - owned:
        yield Violation("orphan_chunks", str(file_id), "chunks without a file document")


def _predictions(db: Database) -> list[dict[str, Any]]:
    """Succeeded batch prediction jobs (each owns its committed output file)."""
    query = {"kind": "predict", "status": "succeeded"}
    return [j for j in db.jobs.find(query, {"result": 1}) if committed_output(j) is not None]


def _chunk_owners(db: Database) -> set[Any]:
    """Ids chunks are stored under: ``distinct`` (MongoDB) plus every try's known id."""
    ids = set(db["fs.chunks"].distinct("files_id"))
    for job in db.jobs.find({}, {"attempts": 1}):
        for attempt in range(1, int(job.get("attempts") or 0) + 1):
            ids.update(artifact_id(job["_id"], attempt, fmt) for fmt in ("joblib", "onnx"))
            ids.add(output_id(job["_id"], attempt))
    return {i for i in ids if db["fs.chunks"].find_one({"files_id": i}, {"_id": 1})}


def _live_upload(db: Database, upload: dict[str, Any]) -> bool:
    job = db.jobs.find_one(
        {"_id": upload["job_id"]}, {"status": 1, "attempts": 1, "lease_until": 1}
    )
    if job is None or job["status"] != "running" or job["attempts"] != upload["attempt"]:
        return False
    return job.get("lease_until") is not None and job["lease_until"] >= utcnow()
