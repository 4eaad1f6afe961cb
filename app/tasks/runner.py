"""One training run of one job: claim, load, train, store, commit.

At-least-once delivery, exactly-once effect: a job may be delivered again (its
worker died, Redis redelivered it). Each run claims the job atomically, counts
the attempt, removes artifacts an earlier crashed run left behind, uploads the
new artifact and only then inserts the model document, the commit point. A job
whose model is already committed is simply marked succeeded again.
"""

from __future__ import annotations

import logging
import platform
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pandas as pd
import sklearn
from bson import ObjectId
from celery.exceptions import SoftTimeLimitExceeded
from pymongo.database import Database

from app.config import Settings
from app.errors import JobCancelled, TensorFleetError
from app.ml.registry import get_algorithm
from app.ml.tabular import read_csv
from app.ml.training import TrainingResult, save_model, train_model
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository, utcnow
from app.storage.models import ModelRepository, artifact_id

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
_FRAMES: OrderedDict[str, pd.DataFrame] = OrderedDict()  # per-process cache by dataset sha256
_FRAME_CACHE_SIZE = 4


class TrainingRun:
    """Runs job ``job_id`` once, recording every outcome in its job document."""

    def __init__(self, db: Database, settings: Settings, job_id: str, worker: str) -> None:
        self.db, self.settings, self.job_id, self.worker = db, settings, job_id, worker
        self.jobs, self.models = JobRepository(db), ModelRepository(db)
        self.on_progress: Progress = lambda stage, percent: None
        self.claimed = False  # whether this run took the job (else it had ended or was taken)
        self.ended: dict[str, Any] | None = None  # the job as this run ended it
        self.attempt = 0  # which delivery of the job this run is (from the claim)

    def run(self) -> dict[str, Any] | None:
        """Train and commit the model; returns the job's result, or None if it did not succeed."""
        job = self.jobs.claim(self.job_id, self.worker)
        if job is None:
            self._settle_unclaimable()
            return None
        self.claimed, self.attempt = True, job["attempts"]
        if job["attempts"] > self.settings.max_job_attempts:
            self.models.discard_uncommitted(self.job_id, self.attempt)
            message = f"The job was delivered {job['attempts']} times; its worker kept dying."
            self.ended = self.jobs.fail(self.job_id, "worker_lost", message)
            return None
        if job["attempts"] > 1:  # only an earlier delivery can have committed or left files
            committed = self.models.find_by_job(self.job_id)
            if committed is not None:
                return self._succeed(committed)
            self.models.discard_uncommitted(self.job_id, self.attempt - 1)
        try:
            return self._succeed(self._train_and_commit(job))
        except SoftTimeLimitExceeded:
            return self._fail("timeout", f"Exceeded {self.settings.job_soft_time_limit} s.")
        except TensorFleetError as exc:
            return self._fail(exc.job_error_type, exc.message)
        except Exception as exc:
            log.exception("job %s failed", self.job_id)
            return self._fail("internal", f"{type(exc).__name__}: {exc}")

    def progress(self, stage: str, percent: int) -> None:
        """Record a stage; stop here if the job was cancelled."""
        if not self.jobs.record_progress(self.job_id, stage, percent):
            raise JobCancelled("Cancelled by request.")
        self.on_progress(stage, percent)

    def _train_and_commit(self, job: dict[str, Any]) -> dict[str, Any]:
        self.progress("loading_data", 5)
        dataset = DatasetRepository(self.db).get(job["dataset"], job["dataset_version"])
        frame = self._load_frame(dataset)
        result = train_model(
            frame,
            target=job["target"],
            task=job["task"],
            algorithm=get_algorithm(job["algorithm"]),
            hyperparameters=job["hyperparameters"],
            test_size=job["test_size"],
            random_state=job["random_state"],
            progress=self.progress,
            validated=True,  # the job stores the effective set validated at submission
        )
        self.progress("saving", 90)
        metadata = {"kind": "model", "job_id": self.job_id, "model_name": job["model_name"]}
        file_id = artifact_id(self.job_id, self.attempt)
        with self.models.artifacts.writer(f"{job['model_name']}.joblib", metadata, file_id) as out:
            save_model(result.pipeline, out, compress=self.settings.model_compression)
        self.progress("saving", 98)  # last chance to cancel before the commit point
        model = model_document(job, dataset, result, self.models.next_version(job["model_name"]))
        model.update(file_id=out.file_id, sha256=out.sha256, size_bytes=out.size)
        committed = self.models.commit(model)
        if committed["_id"] != model["_id"]:  # a concurrent run of this job committed first
            self.models.artifacts.delete(out.file_id)
        return committed

    def _load_frame(self, dataset: dict[str, Any]) -> pd.DataFrame:
        key = dataset["sha256"]
        if key in _FRAMES:
            _FRAMES.move_to_end(key)
            return _FRAMES[key]
        frame = read_csv(DatasetRepository(self.db).read_csv_bytes(dataset))
        _FRAMES[key] = frame
        while len(_FRAMES) > _FRAME_CACHE_SIZE:
            _FRAMES.popitem(last=False)
        return frame

    def _succeed(self, model: dict[str, Any]) -> dict[str, Any]:
        result = {
            "model_id": model["_id"],
            "version": model["version"],
            "metrics": model["metrics"],
        }
        self.ended = self.jobs.finish(self.job_id, "succeeded", result=result, error=None)
        return result

    def _fail(self, error_type: str, message: str) -> None:
        self.models.discard_uncommitted(self.job_id, self.attempt)
        self.ended = self.jobs.fail(self.job_id, error_type, message)
        return None

    def _settle_unclaimable(self) -> None:
        """A running job flagged for cancel whose worker died: end it cancelled."""
        job = self.jobs.find(self.job_id)
        if job is not None and job["status"] == "running" and job.get("cancel_requested"):
            self.attempt = job["attempts"]
            self._fail("cancelled", "Cancelled by request.")


def model_document(
    job: dict[str, Any], dataset: dict[str, Any], result: TrainingResult, version: int
) -> dict[str, Any]:
    """The model document committed for a finished run (file fields added by the caller)."""
    metrics = result.metrics
    score = metrics.get("test_accuracy") if job["task"] == "classification" else metrics.get("r2")
    return {
        "_id": str(ObjectId()),  # time-ordered, so ties in created_at keep creation order
        "name": job["model_name"],
        "version": version,
        "algorithm": job["algorithm"],
        "hyperparameters": result.hyperparameters,
        "metrics": metrics,
        "score": score,
        "dataset_name": dataset["name"],
        "dataset_version": dataset["version"],
        "features": result.features,
        "target": job["target"],
        "classes": result.classes,
        "task": job["task"],
        "job_id": job["_id"],
        "sklearn_version": sklearn.__version__,
        "pandas_version": pd.__version__,
        "python_version": platform.python_version(),
        "created_at": utcnow(),
    }
