"""``/metrics``: the API's Prometheus exposition, with the fleet gauges read at scrape time.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (an empty
directory per deployment): each worker writes its samples there and
``/metrics`` sums them. Queue depth, the oldest queued job's age and jobs by
status are read from Redis and MongoDB at scrape time. The collectors are in
the catalog, ``app.metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from app.api import context
from app.metrics import (
    API_REQUEST_DURATION,
    API_REQUESTS,
    JOBS_BY_STATUS,
    QUEUE_DEPTH,
    QUEUE_OLDEST_AGE,
    QUEUE_WORK,
)
from app.storage.jobs import JobRepository
from app.tasks.celery_app import FleetQueues

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class FleetCollector(Collector):
    """Scrape-time gauges of the queue and the jobs, read from Redis and MongoDB."""

    def __init__(self, queues: tuple[str, ...]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Queue depth, oldest queued job age and queued + running jobs (per queue), and
        jobs by status."""
        depth, age, by_status, work = (
            QUEUE_DEPTH.family(),
            QUEUE_OLDEST_AGE.family(),
            JOBS_BY_STATUS.family(),
            QUEUE_WORK.family(),
        )
        # A gauge whose source is down is left out, not the whole scrape: the request
        # metrics matter most while Redis or MongoDB is unreachable.
        try:
            for queue in self._queues:
                depth.add_metric([queue], context.redis_client().llen(queue))
            yield depth
        except RedisError as exc:
            log.warning("%s not collected: Redis: %s", QUEUE_DEPTH.name, exc)
        try:
            jobs = JobRepository(context.db())
            now = datetime.now(UTC)
            for queue in self._queues:
                oldest = jobs.oldest_queued(queue)
                age.add_metric(
                    [queue], (now - oldest["created_at"]).total_seconds() if oldest else 0
                )
            for status, count in jobs.count_by_status().items():
                by_status.add_metric([status], count)
            active = jobs.active_by_queue()
            for queue in self._queues:
                work.add_metric([queue], active.get(queue, 0))
            yield from (age, by_status, work)
        except PyMongoError as exc:
            log.warning("job gauges not collected: MongoDB: %s", exc)


@bp.get("/metrics")
def serve_metrics() -> Response:
    """The Prometheus exposition of this API (all gunicorn workers) and the fleet gauges."""
    if context.settings().prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(
            registry, path=context.settings().prometheus_multiproc_dir
        )
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    fleet = CollectorRegistry()
    fleet.register(FleetCollector(FleetQueues.of(context.settings()).all))
    return Response(body + generate_latest(fleet), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    if endpoint != "/metrics":
        elapsed = time.perf_counter() - g.get("metrics_started", time.perf_counter())
        API_REQUEST_DURATION.labels(request.method, endpoint).observe(elapsed)
        API_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    return response


def install_metrics(app: Flask) -> None:
    """Time every request and serve ``/metrics``."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
