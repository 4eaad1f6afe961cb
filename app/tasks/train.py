"""The Celery training task: a thin shell around ``app.services.runs.TrainingRun``.

Outcomes that happen outside the task body are recorded here too, in the
worker's main process (the ``task_failure`` signal): a hard time limit (the pool
killed the process: the job fails ``timeout``), a pool process that died (the
job is requeued at once, counted as an attempt), and a revoke that terminated a
running job (cancellation).

MongoDB or Redis briefly unavailable is not the job's fault: the task is retried
(a new message, the old one acknowledged once the new one is published) after a
delay longer than the lease, with backoff, ``TRANSIENT_RETRIES`` times; past
that the supervisor still requeues the job, so it never stays non-terminal.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from billiard.exceptions import WorkerLostError
from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_failure, task_revoked
from pymongo.errors import PyMongoError

from app.services.exports import queue_export
from app.services.jobs import requeue_lost_run, settle_terminated
from app.services.outcomes import JobOutcomes
from app.services.runs import TrainingRun
from app.services.searches import advance as advance_search
from app.storage.mongo import get_database
from app.storage.redis import get_redis
from app.tasks.celery_app import TASK_OF_KIND, TRAIN_TASK, TensorFleetCelery
from app.tasks.worker_metrics import observe_task

log = logging.getLogger(__name__)
JOB_TASKS = frozenset(TASK_OF_KIND.values())  # the tasks that run jobs (signals below)


class JobFailed(Exception):
    """Raised after a job was recorded failed or cancelled, so Celery and Flower show FAILURE."""


class TrainingTask(Task):
    """Carries the Celery app's settings."""

    app: TensorFleetCelery


@shared_task(bind=True, base=TrainingTask, name=TRAIN_TASK, throws=(JobFailed,))
def train_job(self: TrainingTask, job_id: str) -> dict[str, Any] | None:
    """Train the model of job ``job_id`` (the task id is the job id)."""
    return run_job(self, TrainingRun, job_id)


def run_job(task: TrainingTask, run_class: type[TrainingRun], job_id: str) -> Any:
    """Run job ``job_id`` with ``run_class`` inside ``task`` (any kind of job): transient
    MongoDB/Redis errors retry the message; a recorded failure raises JobFailed."""
    self = task
    started = time.perf_counter()
    settings = self.app.settings
    db = get_database(settings)
    worker = self.request.hostname or "local"
    run = run_class(db, get_redis(settings), settings, job_id, worker)
    # Progress lives in the job document (API, CLI); the task sends no PROGRESS states:
    # results are ignored and Flower renders only Celery's own event fields.
    try:
        result = run.run()
    except (PyMongoError, redis.RedisError) as exc:
        delay = settings.lease_seconds + min(60.0, 2.0**self.request.retries)
        log.warning("job %s: %s; retrying in %.0f s", job_id, exc, delay)
        raise self.retry(exc=exc, countdown=delay, max_retries=settings.transient_retries) from exc
    if run.claimed:
        job = run.ended or run.jobs.find(job_id)  # re-read only if another run ended it
        observe_task(job, time.perf_counter() - started)
        if run.export_pending:  # a big model: its ONNX copy is made right after the job
            queue_export(self.app, run.export_pending)
        if job is not None and job.get("search_id"):  # a trial or a refit: move the search on
            advance_search(db, self.app, get_redis(settings), job["search_id"])
        if job is not None and job.get("error"):
            # already recorded; raising only makes Celery (and Flower) show the task failed
            raise JobFailed(f"{job['error']['type']}: {job['error']['message']}")
    return result


@task_failure.connect
def record_lost_run(
    sender: Any = None, task_id: str | None = None, exception: Any = None, **_: Any
) -> None:
    """In the main process: a hard time-out fails the job; a dead pool process requeues it."""
    if getattr(sender, "name", None) not in JOB_TASKS or task_id is None:
        return
    if not isinstance(exception, TimeLimitExceeded | WorkerLostError):
        return  # an ordinary failure, already recorded by the run itself
    settings = sender.app.settings
    db, redis_client = get_database(settings), get_redis(settings)
    if isinstance(exception, TimeLimitExceeded):
        message = f"Killed after the hard time limit: {exception}"
        JobOutcomes(db, redis_client).fail(task_id, "timeout", message)
        return
    node = getattr(sender.request, "hostname", None) or ""
    requeue_lost_run(db, sender.app, redis_client, task_id, node)


@task_revoked.connect
def record_cancellation(
    sender: Any = None, request: Any = None, terminated: bool = False, **_: Any
) -> None:
    """A running job killed by ``revoke(terminate=True)`` ends cancelled, with no model."""
    if not terminated or request is None or getattr(sender, "name", None) not in JOB_TASKS:
        return
    settings = sender.app.settings
    settle_terminated(get_database(settings), get_redis(settings), request.id)
