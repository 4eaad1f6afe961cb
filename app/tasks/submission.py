"""Accepting a training job: validate everything, write the job, then publish it.

The job document is written before the message is published, so a worker
never sees a job MongoDB does not know; if publishing fails the document is
removed again and the caller gets ServiceUnavailableError (503), so no job
lingers as ``queued`` without a message.
"""

from __future__ import annotations

import logging
from typing import Any

from bson import ObjectId
from celery import Celery
from kombu.exceptions import OperationalError
from pymongo.database import Database
from redis.exceptions import RedisError

from app.errors import DataError, ServiceUnavailableError, ValidationError
from app.ml.dataset_checks import check_against_dataset, training_rows
from app.ml.hyperparameters import validate_hyperparameters
from app.ml.registry import get_algorithm
from app.ml.tabular import infer_task, read_csv
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository, utcnow
from app.tasks.celery_app import TRAIN_TASK, TRAINING_QUEUE

log = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, RedisError, OSError)
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def submit_job(db: Database, celery: Celery, spec: dict[str, Any]) -> dict[str, Any]:
    """Validate ``spec`` (the POST body), store the job and enqueue it; returns the job."""
    datasets = DatasetRepository(db)
    dataset = datasets.get(spec["dataset"], spec.get("dataset_version"))
    target = spec.get("target") or dataset["target"]
    task = dataset["task"] if target == dataset["target"] else _task_for(datasets, dataset, target)
    algorithm = get_algorithm(spec["algorithm"])
    params = validate_hyperparameters(algorithm, task, spec.get("hyperparameters") or {})
    own_target = target == dataset["target"]
    check_against_dataset(
        params,
        dataset=dataset["name"],
        n_train=training_rows(dataset["n_samples"], spec.get("test_size", 0.2)),
        n_classes=len(dataset["classes"]) if own_target and dataset.get("classes") else None,
    )
    job = new_job_document(spec, dataset, target, task, params)
    jobs = JobRepository(db)
    jobs.insert(job)
    try:
        celery.send_task(
            TRAIN_TASK,
            args=[job["_id"]],
            task_id=job["_id"],
            queue=TRAINING_QUEUE,
            shadow=f"train {job['model_name']} ({algorithm.name} on {dataset['name']})",
            retry=True,
            retry_policy=PUBLISH_RETRY,
            # The job document is the result; without this, Celery subscribes the API to
            # the task's result channel first, and with Redis down that retries ~20 s and
            # raises RuntimeError (a 500) instead of the 503 below.
            ignore_result=True,
        )
    except BROKER_ERRORS as exc:
        jobs.delete(job["_id"])
        log.warning("broker unreachable, job %s withdrawn: %s", job["_id"], exc)
        raise ServiceUnavailableError(
            "The job queue (Redis) is unreachable.", {"service": "redis"}
        ) from exc
    return job


def new_job_document(
    spec: dict[str, Any], dataset: dict[str, Any], target: str, task: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The ``queued`` job document for a validated request."""
    return {
        "_id": str(ObjectId()),  # time-ordered, so ties in created_at keep creation order
        "status": "queued",
        "queue": TRAINING_QUEUE,
        "dataset": dataset["name"],
        "dataset_version": dataset["version"],
        "algorithm": spec["algorithm"],
        "model_name": spec.get("model_name") or f"{dataset['name']}_{spec['algorithm']}",
        "hyperparameters": params,
        "target": target,
        "task": task,
        "test_size": spec.get("test_size", 0.2),
        "random_state": spec.get("random_state", 42),
        "progress": {"stage": "queued", "percent": 0},
        "created_at": utcnow(),
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "worker": None,
        "result": None,
        "error": None,
        "cancel_requested": False,
    }


def _task_for(datasets: DatasetRepository, dataset: dict[str, Any], target: str) -> str:
    """The task of ``target`` when a job overrides the dataset's own target column."""
    if target not in dataset["features"] and target not in dataset.get("column_types", {}):
        allowed = [dataset["target"], *dataset["features"]]
        raise ValidationError(
            f"Column '{target}' is not in dataset '{dataset['name']}'.",
            {"field": "target", "allowed": allowed},
        )
    frame = read_csv(datasets.read_csv_bytes(dataset))
    column = frame[target]
    if column.dropna().nunique() < 2:
        raise DataError(
            f"Target column '{target}' needs at least two distinct values.", {"field": "target"}
        )
    return infer_task(column)
