"""Graceful shutdown of a worker: finish the running job within a grace period, else hand it back.

On SIGTERM or SIGINT (``docker compose stop``, a Kubernetes scale-in, Ctrl-C)
Celery stops taking new messages and waits for the running task (a warm
shutdown). This adds the bound: after ``WORKER_SHUTDOWN_GRACE_SECONDS`` a job
still running is handed back (``app.services.jobs.hand_back``: requeued and
published again at once, so the next worker starts it without waiting for a
lease or a visibility timeout) and its pool process is stopped. No job is left
``running`` without an owner.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any

from celery import Celery
from celery.signals import worker_shutting_down
from celery.worker import state

from app.config import Settings
from app.services.jobs import hand_back
from app.storage.jobs import JobRepository
from app.storage.mongo import get_database
from app.storage.redis import get_redis

log = logging.getLogger(__name__)


def install_graceful_shutdown(celery: Celery, settings: Settings) -> None:
    """Bound the warm shutdown of this worker by the grace period."""

    @worker_shutting_down.connect(weak=False)
    def _bound(sender: Any = None, **_: Any) -> None:
        hostname = str(sender)
        thread = threading.Thread(
            target=_drain, args=(celery, settings, hostname), name="drain", daemon=True
        )
        thread.start()


def _drain(celery: Celery, settings: Settings, hostname: str) -> None:
    """Wait up to the grace period for running tasks, then hand back what still runs."""
    deadline = time.monotonic() + settings.worker_shutdown_grace_seconds
    while state.active_requests and time.monotonic() < deadline:
        time.sleep(0.2)
    running = list(state.active_requests)
    if not running:
        return
    db, redis_client = get_database(settings), get_redis(settings)
    for request in running:
        job = JobRepository(db).find(request.id)
        owner = f"{hostname}:{request.worker_pid}:"
        if job and job["status"] == "running" and str(job.get("owner", "")).startswith(owner):
            hand_back(db, celery, redis_client, request.id, job["attempts"])
        if request.worker_pid:
            log.warning("grace period over: stopping the run of job %s", request.id)
            with contextlib.suppress(ProcessLookupError):
                os.kill(request.worker_pid, signal.SIGKILL)
