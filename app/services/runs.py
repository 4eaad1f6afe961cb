"""One training run of one job: claim, heartbeat, load, train, store, commit.

At-least-once delivery, exactly-once effect: a job may be delivered again (its
worker died, Redis redelivered it, the supervisor requeued it). Each run claims
the job with a lease (``app.storage.leases``) and renews it while it works; a
delivery of a job whose lease is live does not train. The attempt number from
the claim fences every later write, so a run that lost its lease stops without
changing anything. The run removes artifacts an earlier crashed run left
behind, uploads the new artifact and only then inserts the model document, the
commit point. A job whose model is already committed is simply marked succeeded.

MongoDB errors are not job failures: they propagate, so the Celery task retries
the message later (``app.tasks.train``) and nothing is acknowledged unrecorded.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import OrderedDict
from typing import Any

import pandas as pd
import redis
from celery.exceptions import SoftTimeLimitExceeded
from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.config import Settings
from app.errors import JobCancelled, TensorFleetError
from app.ml.metrics import headline_score
from app.ml.registry import get_algorithm
from app.ml.tabular import read_csv
from app.ml.training import (
    Progress,
    TrainingResult,
    library_versions,
    save_model,
    train_pipeline,
)
from app.services.datasets import read_dataset
from app.services.exports import store_copy
from app.services.heartbeat import Heartbeat, LeaseLost
from app.services.integrity import refuse_if_quarantined
from app.services.outcomes import JobOutcomes
from app.services.resources import memory_limit
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository, job_result
from app.storage.leases import JobLeases
from app.storage.models import (
    ModelRepository,
    artifact_id,
    model_file_ids,
    new_model_document,
)
from app.storage.mongo import utcnow
from app.storage.published import mark_claimed
from app.storage.signing import Signer
from app.storage.uploads import UploadRepository

log = logging.getLogger(__name__)

_FRAMES: OrderedDict[str, pd.DataFrame] = OrderedDict()  # per-process cache by dataset sha256
_FRAME_CACHE_SIZE = 4


class TrainingRun:
    """Runs job ``job_id`` once, recording every outcome in its job document.

    The claim, heartbeat, fencing and failure handling here serve every kind of job; what
    a kind does is in the hooks below ``_committed`` (``BatchPredictionRun`` overrides
    them).
    """

    def __init__(
        self,
        db: Database,
        redis_client: redis.Redis,
        settings: Settings,
        job_id: str,
        worker: str,
    ) -> None:
        self.db, self.settings, self.job_id, self.worker = db, settings, job_id, worker
        self.redis = redis_client
        self.signer = Signer.from_settings(settings)
        self.jobs, self.models = JobRepository(db), ModelRepository(db, self.signer)
        self.leases, self.uploads = JobLeases(db), UploadRepository(db)
        self.outcomes = JobOutcomes(db, redis_client)
        self.owner = f"{worker}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_progress: Progress = lambda stage, percent: None
        self.claimed = False  # whether this run took the job (else it had ended or was taken)
        self.ended: dict[str, Any] | None = None  # the job as this run ended it
        self.attempt = 0  # which delivery of the job this run is (from the claim)
        self.heartbeat: Heartbeat | None = None
        self.export_pending: str | None = None  # a committed model whose ONNX copy is to make

    def run(self) -> dict[str, Any] | None:
        """Train and commit the model; returns the job's result, or None if it did not succeed."""
        job = self.leases.claim(self.job_id, self.owner, self.worker, self.settings.lease_seconds)
        if job is None:
            self._settle_unclaimable()
            return None
        self.claimed, self.attempt = True, job["attempts"]
        mark_claimed(self.redis, self.job_id)
        if job["attempts"] - job.get("handed_back", 0) > self.settings.max_job_attempts:
            message = f"The job was delivered {job['attempts']} times; its worker kept dying."
            self._fail("worker_lost", message)
            return None
        if job["attempts"] > 1:  # only an earlier delivery can have committed or left files
            committed = self._committed()
            if committed is not None:
                return self._succeed(committed)
            self._discard_uncommitted()
        beat = Heartbeat(
            self.leases, self.job_id, self.attempt,
            self.settings.lease_seconds, self.settings.heartbeat_seconds,
        )  # fmt: skip
        with beat:
            self.heartbeat = beat
            return self._run_claimed(job)

    def _run_claimed(self, job: dict[str, Any]) -> dict[str, Any] | None:
        try:
            with memory_limit(self.settings.job_memory_limit_mb):
                committed = self._work(job)
            return self._succeed(committed)
        except LeaseLost as lost:
            log.warning("%s; stopping without writing", lost)
            self._discard_try()
        except (PyMongoError, redis.RedisError):
            raise  # not the job's fault: the task retries the message
        except SoftTimeLimitExceeded:
            self._fail("timeout", f"Exceeded {self.settings.job_soft_time_limit} s.")
        except TensorFleetError as exc:
            self._fail(exc.job_error_type, exc.message)
        except Exception as exc:
            log.exception("job %s failed", self.job_id)
            self._fail("internal", f"{type(exc).__name__}: {exc}")
        return None

    def progress(self, stage: str, percent: int) -> None:
        """Record a stage; stop here if the job was cancelled or this run lost it."""
        if self.heartbeat is not None:
            self.heartbeat.check()
        if not self.jobs.record_progress(self.job_id, self.attempt, stage, percent):
            if self.jobs.is_cancel_requested(self.job_id):
                raise JobCancelled("Cancelled by request.")
            raise LeaseLost(f"job {self.job_id}: attempt {self.attempt} no longer owns it")
        self.on_progress(stage, percent)

    # -- what a kind of job does (a batch prediction overrides these) -----------------------
    def _committed(self) -> dict[str, Any] | None:
        """What an earlier delivery of this job committed (here: its model), if anything."""
        return self.models.find_by_job(self.job_id)

    def _discard_uncommitted(self) -> None:
        """Remove what earlier deliveries uploaded without committing."""
        self.models.discard_uncommitted(self.job_id, self.attempt - 1)

    def _discard_try(self) -> None:
        """Remove what this delivery uploaded (it lost the job)."""
        self.models.discard_try(self.job_id, self.attempt)

    def _work(self, job: dict[str, Any]) -> dict[str, Any]:
        """Do the job and commit its outcome (here: train, upload, insert the model)."""
        return self._train_and_commit(job)

    def _train_and_commit(self, job: dict[str, Any]) -> dict[str, Any]:
        self.progress("loading_data", 5)
        dataset = DatasetRepository(self.db).get(job["dataset"], job["dataset_version"])
        result = train_pipeline(
            self._load_frame(dataset),
            target=job["target"],
            task=job["task"],
            algorithm=get_algorithm(job["algorithm"]),
            hyperparameters=job["hyperparameters"],
            test_size=job["test_size"],
            random_state=job["random_state"],
            progress=self.progress,
        )
        self.progress("saving", 88)
        file = self._upload(job, result.pipeline)
        formats = {"onnx": self._onnx_copy(job, result, file)} if self.settings.onnx_export else {}
        self.progress("saving", 98)  # last chance to cancel (or notice a lost lease) first
        trained = {
            "hyperparameters": result.hyperparameters,
            "metrics": result.metrics,
            "score": headline_score(job["task"], result.metrics),
            "features": result.features,
            "feature_types": result.feature_types,
            "training_profile": result.training_profile,
            "classes": result.classes,
            "curves": result.curves,
            "feature_importances": result.feature_importances,
            "formats": formats,
            **library_versions(),
        }
        version = self.models.next_version(job["model_name"])
        model = new_model_document(job, dataset, version=version, trained=trained, file=file)
        committed = self.models.commit(model)
        owned = model_file_ids(model)
        if committed["_id"] != model["_id"]:  # a concurrent run of this job committed first
            for file_id in owned:
                self.models.artifacts.delete(file_id)
        self.uploads.done(file["file_id"])
        if ((committed.get("formats") or {}).get("onnx") or {}).get("status") == "pending":
            self.export_pending = committed["_id"]
        return committed

    def _onnx_copy(
        self, job: dict[str, Any], result: TrainingResult, file: dict[str, Any]
    ) -> dict[str, Any]:
        """The ONNX copy of a small model, made now; a big one's is made after the job
        (``app.services.exports``), as is a search's best model's (the search ends when it
        is registered; its forests are often big). A conversion problem never fails the job."""
        later = job.get("search_id") is not None
        if later or file["size_bytes"] > self.settings.onnx_inline_max_mb * 2**20:
            return {"status": "pending"}
        self.progress("converting", 92)
        # A per-try id: a try that dies before its commit leaves a file the next delivery
        # (or the job's failure) removes by this id, as it does the joblib file's.
        file_id = artifact_id(self.job_id, self.attempt, "onnx")
        about = {
            "name": job["model_name"], "job_id": self.job_id, "task": job["task"],
            "features": result.features, "feature_types": result.feature_types,
        }  # fmt: skip
        try:
            return store_copy(self.models, about, result.pipeline, result.holdout, file_id)
        except (PyMongoError, redis.RedisError, LeaseLost, SoftTimeLimitExceeded):
            raise
        except Exception as exc:  # never the job's failure
            log.warning("job %s: no ONNX copy: %s", self.job_id, exc)
            return {"status": "unsupported", "reason": f"{type(exc).__name__}: {exc}"[:300]}

    def _upload(self, job: dict[str, Any], pipeline: Any) -> dict[str, Any]:
        """Store the fitted pipeline under this try's artifact id (recorded first)."""
        file_id = artifact_id(self.job_id, self.attempt)
        self.uploads.start(file_id, self.job_id, self.attempt)
        metadata = {"kind": "model", "job_id": self.job_id, "model_name": job["model_name"]}
        with self.models.artifacts.writer(f"{job['model_name']}.joblib", metadata, file_id) as out:
            save_model(pipeline, out, compress=self.settings.model_compression)
        return {"file_id": out.file_id, "sha256": out.sha256, "size_bytes": out.size}

    def _load_frame(self, dataset: dict[str, Any]) -> pd.DataFrame:
        refuse_if_quarantined("dataset", dataset)
        key = dataset["sha256"]
        if key in _FRAMES:
            _FRAMES.move_to_end(key)
            return _FRAMES[key]
        frame = read_csv(read_dataset(self.db, self.signer, dataset))
        _FRAMES[key] = frame
        while len(_FRAMES) > _FRAME_CACHE_SIZE:
            _FRAMES.popitem(last=False)
        return frame

    def _succeed(self, model: dict[str, Any]) -> dict[str, Any]:
        self.ended = self.outcomes.succeed(self.job_id, model, self.attempt or None)
        return job_result(model)

    def _fail(self, error_type: str, message: str) -> None:
        self.ended = self.outcomes.fail(self.job_id, error_type, message, self.attempt or None)

    def _settle_unclaimable(self) -> None:
        """A running job flagged for cancel whose lease expired (its worker died): end it."""
        job = self.jobs.find(self.job_id)
        if job is None or job["status"] != "running" or not job.get("cancel_requested"):
            return
        lease = job.get("lease_until")
        if lease is None or lease < utcnow():
            self.outcomes.fail(self.job_id, "cancelled", "Cancelled by request.")
