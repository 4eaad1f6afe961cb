"""A worker's Prometheus endpoint on ``METRICS_PORT``, and the task-duration histogram.

Tasks run in pool child processes while the HTTP endpoint lives in the
worker's main process, so the metrics use prometheus-client's multiprocess
mode: every process writes to ``PROMETHEUS_MULTIPROC_DIR`` (set by
``use_multiprocess_dir`` before this module is imported) and the endpoint
sums them. The collectors themselves are in the catalog, ``app.metrics``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown, worker_ready
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from app.config import Settings
from app.metrics import TASK_DURATION
from app.statuses import FINISHED

log = logging.getLogger(__name__)


def observe_task(job: dict[str, Any] | None, seconds: float) -> None:
    """Record the wall time of one training task by its job's final status."""
    if job is not None:
        outcome = job["status"] if job["status"] in FINISHED else "other"
        TASK_DURATION.labels(job["algorithm"], outcome).observe(seconds)


def install_worker_metrics(celery: Celery, settings: Settings) -> None:
    """Serve /metrics from the worker's main process once it is ready."""

    @worker_ready.connect(weak=False)
    def _serve(**_: Any) -> None:
        if not settings.metrics_port:
            return
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        try:
            start_http_server(settings.metrics_port, addr=settings.metrics_addr, registry=registry)
            log.info("worker metrics on :%d/metrics", settings.metrics_port)
        except OSError as exc:
            log.warning("worker metrics not served on port %d: %s", settings.metrics_port, exc)

    @worker_process_shutdown.connect(weak=False)
    def _mark_dead(pid: int | None = None, **_: Any) -> None:
        multiprocess.mark_process_dead(pid or os.getpid())
