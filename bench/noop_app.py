"""Baseline of ``tiny_job_overhead``: TensorFleet's Celery configuration with a no-op task.

Run as ``celery -A bench.noop_app worker -Q bench.noop -c 1 --prefetch-multiplier 1``
(the training workers' options) on the same Redis; it imports no training code.
"""

from __future__ import annotations

from app.config import get_settings
from app.tasks.celery_app import create_celery

NOOP_QUEUE = "bench.noop"
NOOP_TASK = "bench.noop"

celery_app = create_celery(get_settings())
celery_app.conf.update(include=[], task_routes={NOOP_TASK: {"queue": NOOP_QUEUE}})


@celery_app.task(name=NOOP_TASK)
def noop() -> None:
    """Do nothing: the round trip is pure Celery + Redis."""
