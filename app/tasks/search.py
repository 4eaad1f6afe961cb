"""The Celery task of a search trial: ``TrialRun`` in the shell of ``train_job``, on the
``search`` queue. The search advances when the trial ends (``run_job``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.services.trials import TrialRun
from app.tasks.celery_app import TRIAL_TASK
from app.tasks.train import JobFailed, TrainingTask, run_job


@shared_task(bind=True, base=TrainingTask, name=TRIAL_TASK, throws=(JobFailed,))
def trial_job(self: TrainingTask, job_id: str) -> dict[str, Any] | None:
    """Cross-validate the candidate of trial ``job_id`` (the task id is the job id)."""
    return run_job(self, TrialRun, job_id)
