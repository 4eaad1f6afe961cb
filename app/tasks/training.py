"""The Celery training task: a thin shell around ``TrainingRun``.

Outcomes that happen outside the task body are recorded here too: a hard time
limit (the pool kills the process; Celery calls ``on_failure`` in the worker's
main process) and a revoke that terminated a running job (cancellation).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_revoked

from app.storage.jobs import JobRepository
from app.storage.models import ModelRepository
from app.storage.mongo import get_database
from app.tasks.celery_app import TRAIN_TASK
from app.tasks.events import get_redis, publish_job_finished
from app.tasks.runner import TrainingRun
from app.tasks.worker_metrics import record_failure, record_job_outcome

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """Raised after a job was recorded failed or cancelled, so Celery and Flower show FAILURE."""


class TrainingTask(Task):
    """Records hard time-outs, which never reach the task body."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Mark the job failed ``timeout`` when its process was killed for running too long."""
        if isinstance(exc, TimeLimitExceeded):
            db = get_database(self.app.settings)
            message = f"Killed after the hard time limit: {exc}"
            ended = JobRepository(db).fail(task_id, "timeout", message)
            if ended is not None:
                ModelRepository(db).discard_uncommitted(task_id, ended["attempts"])
                record_failure("timeout")
                publish_job_finished(get_redis(self.app.settings.redis_url), task_id)


@shared_task(bind=True, base=TrainingTask, name=TRAIN_TASK, throws=(JobFailed,))
def train_model_task(self: TrainingTask, job_id: str) -> dict[str, Any] | None:
    """Train the model of job ``job_id`` (the task id is the job id)."""
    started = time.perf_counter()
    db = get_database(self.app.settings)
    run = TrainingRun(db, self.app.settings, job_id, self.request.hostname or "local")
    # Progress lives in the job document (API, CLI); the task sends no PROGRESS states:
    # results are ignored and Flower renders only Celery's own event fields.
    result = run.run()
    if run.claimed:
        publish_job_finished(get_redis(self.app.settings.redis_url), job_id)
        job = run.ended or JobRepository(db).find(job_id)  # re-read only if another run ended it
        record_job_outcome(job, time.perf_counter() - started)
        if job is not None and job.get("error"):
            # already recorded; raising only makes Celery (and Flower) show the task failed
            raise JobFailed(f"{job['error']['type']}: {job['error']['message']}")
    return result


@task_revoked.connect
def record_cancellation(
    sender: Any = None, request: Any = None, terminated: bool = False, **_: Any
) -> None:
    """A running job killed by ``revoke(terminate=True)`` ends cancelled, with no model."""
    if not terminated or request is None or getattr(sender, "name", None) != TRAIN_TASK:
        return
    db = get_database(sender.app.settings)
    ended = JobRepository(db).fail(request.id, "cancelled", "Cancelled by request.")
    if ended is None:
        return  # it had already ended (e.g. succeeded just before the kill): keep its model
    record_failure("cancelled")
    publish_job_finished(get_redis(sender.app.settings.redis_url), request.id)
    models = ModelRepository(db)
    committed = models.find_by_job(request.id)
    if committed is not None:  # killed between commit and finish: a cancelled job keeps no model
        models.delete(committed["_id"])
    models.discard_uncommitted(request.id, ended["attempts"])
