"""The Celery task that makes a committed model's ONNX copy (``app.services.exports``).

Queued by the worker that trained the model, right after its job ended, and again by the
supervisor for a model still pending; safe to run twice. MongoDB briefly unavailable:
retried later.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from pymongo.errors import PyMongoError

from app.services.exports import export_onnx
from app.storage.mongo import get_database
from app.storage.signing import Signer
from app.tasks.celery_app import EXPORT_TASK
from app.tasks.train import TrainingTask

log = logging.getLogger(__name__)


@shared_task(bind=True, base=TrainingTask, name=EXPORT_TASK, ignore_result=True)
def export_model(self: TrainingTask, model_id: str) -> dict[str, Any] | None:
    """Convert model ``model_id`` to ONNX if its copy is pending."""
    settings = self.app.settings
    try:
        return export_onnx(get_database(settings), Signer.from_settings(settings), model_id)
    except PyMongoError as exc:
        log.warning("ONNX export of %s: %s; retrying", model_id, exc)
        raise self.retry(exc=exc, countdown=settings.lease_seconds, max_retries=10) from exc
