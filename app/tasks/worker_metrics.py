"""Prometheus metrics of a Celery worker, served on ``METRICS_PORT`` (default 9100).

Tasks run in pool child processes while the HTTP endpoint lives in the
worker's main process, so the metrics use prometheus-client's multiprocess
mode: every process writes to ``PROMETHEUS_MULTIPROC_DIR`` (a fresh private
directory is made when unset) and the endpoint sums them. Import this module
before anything imports ``prometheus_client``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tensorfleet-worker-metrics-")

from celery import Celery
from celery.signals import worker_process_shutdown, worker_ready
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

TASK_DURATION = Histogram(
    "tensorfleet_worker_task_duration_seconds",
    "Wall time of a training task, by algorithm and outcome.",
    ["algorithm", "outcome"],
    buckets=DURATION_BUCKETS,
)
MODELS_TRAINED = Counter(
    "tensorfleet_worker_models_trained_total", "Models trained and stored.", ["algorithm"]
)
MODEL_ACCURACY = Gauge(
    "tensorfleet_worker_model_accuracy",
    "Score of the latest version of a model (test accuracy, or r2 for regression).",
    ["model_name"],
    multiprocess_mode="mostrecent",
)
JOBS_FAILED = Counter(
    "tensorfleet_worker_jobs_failed_total", "Jobs that ended failed or cancelled.", ["error_type"]
)


def record_job_outcome(job: dict[str, Any] | None, seconds: float) -> None:
    """Count one finished task from its final job document."""
    if job is None:
        return
    outcome = job["status"] if job["status"] in ("succeeded", "failed", "cancelled") else "other"
    TASK_DURATION.labels(job["algorithm"], outcome).observe(seconds)
    if outcome == "succeeded" and job.get("result"):
        MODELS_TRAINED.labels(job["algorithm"]).inc()
        metrics = job["result"]["metrics"]
        score = metrics.get("test_accuracy", metrics.get("r2"))
        if score is not None:
            MODEL_ACCURACY.labels(job["model_name"]).set(score)
    elif job.get("error"):
        JOBS_FAILED.labels(job["error"]["type"]).inc()


def record_failure(error_type: str) -> None:
    """Count a job failure seen outside the task body (hard time-out, terminated by cancel)."""
    JOBS_FAILED.labels(error_type).inc()


def install_worker_metrics(celery: Celery) -> None:
    """Serve /metrics from the worker's main process once it is ready."""

    @worker_ready.connect(weak=False)
    def _serve(**_: Any) -> None:
        port = int(os.environ.get("METRICS_PORT", "9100"))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        try:
            start_http_server(
                port, addr=os.environ.get("METRICS_ADDR", "0.0.0.0"), registry=registry
            )
            log.info("worker metrics on :%d/metrics", port)
        except OSError as exc:
            log.warning("worker metrics not served on port %d: %s", port, exc)

    @worker_process_shutdown.connect(weak=False)
    def _mark_dead(pid: int | None = None, **_: Any) -> None:
        multiprocess.mark_process_dead(pid or os.getpid())
