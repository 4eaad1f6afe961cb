"""The Celery training task: a thin shell around ``app.services.runs.TrainingRun``.

Outcomes that happen outside the task body are recorded here too: a hard time
limit (the pool kills the process; Celery calls ``on_failure`` in the worker's
main process) and a revoke that terminated a running job (cancellation).
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_revoked

from app.services.jobs import settle_terminated
from app.services.outcomes import JobOutcomes
from app.services.runs import TrainingRun
from app.storage.mongo import get_database
from app.storage.redis import get_redis
from app.tasks.celery_app import TRAIN_TASK, TensorFleetCelery
from app.tasks.worker_metrics import observe_task


class JobFailed(Exception):
    """Raised after a job was recorded failed or cancelled, so Celery and Flower show FAILURE."""


class TrainingTask(Task):
    """Records hard time-outs, which never reach the task body."""

    app: TensorFleetCelery

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Mark the job failed ``timeout`` when its process was killed for running too long."""
        if isinstance(exc, TimeLimitExceeded):
            settings = self.app.settings
            outcomes = JobOutcomes(get_database(settings), get_redis(settings))
            outcomes.fail(task_id, "timeout", f"Killed after the hard time limit: {exc}")


@shared_task(bind=True, base=TrainingTask, name=TRAIN_TASK, throws=(JobFailed,))
def train_job(self: TrainingTask, job_id: str) -> dict[str, Any] | None:
    """Train the model of job ``job_id`` (the task id is the job id)."""
    started = time.perf_counter()
    settings = self.app.settings
    db = get_database(settings)
    worker = self.request.hostname or "local"
    run = TrainingRun(db, get_redis(settings), settings, job_id, worker)
    # Progress lives in the job document (API, CLI); the task sends no PROGRESS states:
    # results are ignored and Flower renders only Celery's own event fields.
    result = run.run()
    if run.claimed:
        job = run.ended or run.jobs.find(job_id)  # re-read only if another run ended it
        observe_task(job, time.perf_counter() - started)
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
    settings = sender.app.settings
    settle_terminated(get_database(settings), get_redis(settings), request.id)
