"""The supervisor's periodic task, scheduled by beat on the ``supervisor`` queue.

Thin: one tick of ``app.services.supervisor``. The beat process serves that queue
itself (``celery worker -B -Q supervisor``), so the ticks run even while every
training worker is busy.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from app.services.supervisor import tick
from app.storage.mongo import get_database
from app.storage.redis import get_redis
from app.tasks.celery_app import SUPERVISE_TASK, TensorFleetCelery


class SupervisorTask(Task):
    """Carries the Celery app's settings."""

    app: TensorFleetCelery


@shared_task(bind=True, base=SupervisorTask, name=SUPERVISE_TASK, ignore_result=True)
def supervise(self: SupervisorTask) -> dict[str, Any]:
    """Requeue jobs of dead workers, republish lost messages, remove orphan uploads."""
    settings = self.app.settings
    report = tick(get_database(settings), get_redis(settings), self.app, settings)
    return report.as_dict()
