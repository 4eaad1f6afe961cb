"""Job use cases: submit, cancel, wait for the end, and settle a job its worker killed.

Submitting validates everything before anything is stored, from one small
dataset document (its stored profile says what each column implies as a
target). The job document is written before the message is published, so a
worker never sees a job MongoDB does not know; if publishing fails the
document is removed again and the caller gets ServiceUnavailableError (503),
so no job lingers as ``queued`` without a message.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import redis
from kombu.exceptions import OperationalError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pymongo.database import Database
from redis.exceptions import RedisError

from app.errors import ConflictError, DataError, ServiceUnavailableError, ValidationError
from app.ml.hyperparameters import DataShape, validate_hyperparameters
from app.ml.registry import get_algorithm
from app.services.integrity import refuse_if_quarantined
from app.services.outcomes import JobOutcomes
from app.services.registry import resolve
from app.statuses import FINISHED
from app.storage.datasets import DatasetRepository
from app.storage.job_events import publish_job_finished, wait_for_job_end
from app.storage.jobs import JobRepository, new_job_document, new_prediction_job_document
from app.storage.leases import JobLeases
from app.storage.models import ModelRepository
from app.storage.published import mark_published
from app.tasks.celery_app import TASK_OF_KIND, FleetQueues, TensorFleetCelery

log = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, RedisError, OSError)
# One quick retry: a hung or dead Redis must give a 503 within seconds, not hold a thread.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class JobRequest(BaseModel):
    """A job to submit (the body of ``POST /api/v1/jobs``). Every default of a job is here.

    ``kind: "train"`` (the default) needs ``dataset`` and ``algorithm``; ``kind: "predict"``
    (a batch prediction) needs ``dataset`` and ``model`` (a model reference) and takes
    ``dataset_version`` and ``proba``, nothing of training.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["train", "predict"] = "train"
    dataset: str = Field(min_length=1, max_length=128, examples=["iris"])
    algorithm: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        examples=["random_forest"],
        description="train (required)",
        validate_default=True,
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=160,
        examples=["iris_knn@champion"],
        description="predict (required): the model (id, name@alias, name@vN, name@latest)",
        validate_default=True,
    )
    proba: bool = Field(False, description="predict: add class probabilities to the output")
    dataset_version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="Default: the latest version."
    )
    model_name: str | None = Field(
        None, pattern=NAME_PATTERN, description="Default: `<dataset>_<algorithm>`."
    )
    hyperparameters: dict[str, Any] = Field(default_factory=dict, examples=[{"n_estimators": 50}])
    target: str | None = Field(None, description="Default: the dataset's target column.")
    test_size: float = Field(0.2, gt=0, lt=1)
    random_state: int | None = Field(42, ge=0, le=2**32 - 1)

    @field_validator("algorithm", "model")
    @classmethod
    def _required_by_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        """``algorithm`` is required for training jobs, ``model`` for prediction jobs."""
        needed = {"train": "algorithm", "predict": "model"}.get(info.data.get("kind", ""))
        if value is None and info.field_name == needed:
            raise ValueError(f"a {info.data['kind']} job needs '{needed}'")
        return value

    @model_validator(mode="after")
    def _fields_of_kind(self) -> JobRequest:
        """Training fields only on training jobs, ``model`` and ``proba`` only on predictions."""
        if self.kind == "train":
            if self.model is not None or self.proba:
                raise ValueError("'model' and 'proba' belong to kind 'predict'")
            return self
        given = self.model_fields_set & TRAINING_FIELDS
        if given:
            raise ValueError(f"not for kind 'predict': {', '.join(sorted(given))}")
        return self


TRAINING_FIELDS = {"algorithm", "model_name", "hyperparameters", "target", "test_size"}
TRAINING_FIELDS |= {"random_state"}


def submit_job(
    db: Database,
    celery: TensorFleetCelery,
    request: JobRequest,
    redis_client: redis.Redis | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate ``request``, store the job and enqueue it; returns the job document.

    ``extra`` fields go into the document (a schedule's firing: its own ``_id``, so a
    second insert of the same firing is a DuplicateKeyError, and ``schedule_id``)."""
    job = {**new_job(db, request, FleetQueues.of(celery.settings)), **(extra or {})}
    jobs = JobRepository(db)
    jobs.insert(job)
    try:
        publish(celery, job, redis_client)
    except BROKER_ERRORS as exc:
        jobs.delete(job["_id"])
        log.warning("broker unreachable, job %s withdrawn: %s", job["_id"], exc)
        raise ServiceUnavailableError(
            "The job queue (Redis) is unreachable.", {"service": "redis"}
        ) from exc
    return job


def new_job(db: Database, request: JobRequest, queues: FleetQueues) -> dict[str, Any]:
    """The job document of ``request`` on its kind's queue, validated whole (nothing is
    stored)."""
    dataset = DatasetRepository(db).get(request.dataset, request.dataset_version)
    refuse_if_quarantined("dataset", dataset)
    if request.kind == "predict":
        return prediction_job(db, request, dataset, queues.prediction)
    return _training_job(request, dataset, queues.training)


def _training_job(request: JobRequest, dataset: dict[str, Any], queue: str) -> dict[str, Any]:
    """The training job document of ``request``, every field validated."""
    assert request.algorithm is not None  # JobRequest checks it for kind "train"
    target = request.target or dataset["target"]
    profile = target_profile(dataset, target)
    algorithm = get_algorithm(request.algorithm)
    data = DataShape.for_split(
        dataset["name"], profile["n_samples"], request.test_size, profile.get("n_classes")
    )
    params = validate_hyperparameters(
        algorithm, profile["task"], request.hyperparameters, data=data
    )
    return new_job_document(
        dataset=dataset,
        algorithm=algorithm.name,
        model_name=request.model_name or f"{dataset['name']}_{algorithm.name}",
        hyperparameters=params,
        target=target,
        task=profile["task"],
        test_size=request.test_size,
        random_state=request.random_state,
        queue=queue,
    )


def prediction_job(
    db: Database, request: JobRequest, dataset: dict[str, Any], queue: str
) -> dict[str, Any]:
    """The batch prediction job of ``request``: the model resolved and pinned to a version,
    and the dataset checked to hold every feature the model needs."""
    assert request.model is not None  # JobRequest checks it for kind "predict"
    model = resolve(db, request.model)
    refuse_if_quarantined("model", model)
    columns = {dataset["target"], *dataset.get("column_types", {}), *dataset.get("targets", {})}
    missing = [f for f in model["features"] if f not in columns]
    if missing:
        raise ValidationError(
            f"Dataset '{dataset['name']}' v{dataset['version']} lacks the model's features:"
            f" {', '.join(missing)}.",
            {"field": "dataset", "missing": missing, "expected": list(model["features"])},
        )
    return new_prediction_job_document(
        model=model, dataset=dataset, proba=request.proba, queue=queue
    )


def publish(
    celery: TensorFleetCelery, job: dict[str, Any], redis_client: redis.Redis | None
) -> None:
    """Send the training message of ``job`` (task id = job id, JSON, the job's queue) and
    note it in the published set (``app.storage.published``)."""
    celery.send_task(
        TASK_OF_KIND[job.get("kind", "train")],
        args=[job["_id"]],
        task_id=job["_id"],
        queue=job["queue"],
        shadow=f"{job.get('kind', 'train')} {job['model_name']} ({job['algorithm']} on"
        f" {job['dataset']})",
        retry=True,
        retry_policy=PUBLISH_RETRY,
        # The job document is the result; without this, Celery subscribes the API to
        # the task's result channel first, and with Redis down that retries ~20 s and
        # raises RuntimeError (a 500) instead of the 503 above.
        ignore_result=True,
    )
    if redis_client is not None:
        mark_published(redis_client, job["_id"])


def hand_back(
    db: Database, celery: TensorFleetCelery, redis_client: redis.Redis, job_id: str, attempt: int
) -> bool:
    """Give a running job back to the queue now (its worker is stopping): True if it was."""
    if not JobLeases(db).hand_back(job_id, attempt):
        return False
    job = JobRepository(db).find(job_id)
    if job is not None:
        publish(celery, job, redis_client)
    log.info("job %s (attempt %d) handed back to the queue", job_id, attempt)
    return True


def requeue_lost_run(
    db: Database, celery: TensorFleetCelery, redis_client: redis.Redis, job_id: str, node: str
) -> bool:
    """Requeue a job whose pool process died on worker ``node`` (it counts as an attempt),
    so another run starts it at once instead of after its lease expires."""
    job = JobRepository(db).find(job_id)
    if job is None or job["status"] != "running":
        return False
    if not str(job.get("owner") or "").startswith(f"{node}:"):
        return False  # another worker's run owns it now
    if not JobLeases(db).requeue(job, expired_only=False):
        return False
    requeued = JobRepository(db).find(job_id)
    if requeued is not None and requeued["status"] == "queued":
        publish(celery, requeued, redis_client)
    log.warning("job %s: its process died on %s; requeued", job_id, node)
    return True


def target_profile(dataset: dict[str, Any], target: str) -> dict[str, Any]:
    """What the dataset's stored profile says of ``target``: task, rows, classes."""
    profile = dataset.get("targets", {}).get(target)
    if profile is None:
        allowed = [dataset["target"], *dataset["features"]]
        raise ValidationError(
            f"Column '{target}' is not in dataset '{dataset['name']}'.",
            {"field": "target", "allowed": allowed},
        )
    if "error" in profile:
        raise DataError(profile["error"], {"field": "target"})
    return profile


def get_job(db: Database, redis_client: redis.Redis, job_id: str, wait: float = 0) -> dict:
    """The job; with ``wait`` seconds, as soon as it ends or when the time has passed."""
    jobs = JobRepository(db)
    return wait_for_job_end(
        redis_client,
        job_id,
        wait,
        lambda: jobs.get(job_id),
        lambda doc: doc["status"] in FINISHED,
    )


def cancel_job(
    db: Database, redis_client: redis.Redis, celery: TensorFleetCelery, job_id: str
) -> dict[str, Any]:
    """Cancel a job: a queued one ends at once; a running one is flagged and its process
    stopped. ConflictError if it had already ended; returns the job."""
    jobs = JobRepository(db)
    job = jobs.request_cancel(job_id)
    if job is None:
        current = jobs.get(job_id)
        raise ConflictError(
            f"Job '{job_id}' already {current['status']}.",
            {"job_id": job_id, "status": current["status"]},
        )
    if job["status"] == "cancelled":
        publish_job_finished(redis_client, job_id)
    try:  # queued: workers drop the message; running: its process is stopped
        celery.control.revoke(job_id, terminate=job["status"] == "running")
    except BROKER_ERRORS as exc:  # the flag is set; the worker also checks it at every stage
        log.warning("revoke of %s not broadcast: %s", job_id, exc)
    return job


def settle_terminated(db: Database, redis_client: redis.Redis, job_id: str) -> None:
    """A running job's process was killed by a cancel: end it cancelled, with no model."""
    ended = JobOutcomes(db, redis_client).fail(job_id, "cancelled", "Cancelled by request.")
    if ended is None:
        return  # it had already ended (e.g. succeeded just before the kill): keep its model
    models = ModelRepository(db)
    committed = models.find_by_job(job_id)
    if committed is not None:  # killed between commit and finish: a cancelled job keeps no model
        models.delete(committed["_id"])
        models.discard_uncommitted(job_id, ended["attempts"])
