"""The Celery batch prediction task: ``BatchPredictionRun`` in the shell of ``train_job``
(same retries, failure signals, time limits and metrics), on the ``prediction`` queue."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.services.batch_predictions import BatchPredictionRun
from app.tasks.celery_app import PREDICT_TASK
from app.tasks.train import JobFailed, TrainingTask, run_job


@shared_task(bind=True, base=TrainingTask, name=PREDICT_TASK, throws=(JobFailed,))
def predict_job(self: TrainingTask, job_id: str) -> dict[str, Any] | None:
    """Score the dataset of batch prediction job ``job_id`` (the task id is the job id)."""
    return run_job(self, BatchPredictionRun, job_id)
