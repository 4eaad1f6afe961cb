"""/metrics: request counters by route and the scrape-time fleet gauges."""

from __future__ import annotations

import fakeredis

from app.metrics import API_REQUESTS, JOBS_BY_STATUS, QUEUE_DEPTH, QUEUE_OLDEST_AGE, series_name
from tests.unit.api.helpers import samples


def test_metrics_count_requests_by_route_not_by_id(client) -> None:
    before = samples(client.get("/metrics").text)
    client.get("/api/v1/jobs/unknown-id")
    after = samples(client.get("/metrics").text)
    key = (
        series_name(API_REQUESTS),
        (("endpoint", "/api/v1/jobs/<job_id>"), ("method", "GET"), ("status", "404")),
    )
    assert after[key] - before.get(key, 0) == 1
    assert not any("unknown-id" in str(labels) for _, labels in after)


def test_metrics_report_queue_depth_and_jobs_by_status(client, redis) -> None:
    redis.rpush("training", "m1", "m2")
    client.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"})
    values = samples(client.get("/metrics").text)
    assert values[(QUEUE_DEPTH.name, (("queue", "training"),))] == 2
    assert values[(JOBS_BY_STATUS.name, (("status", "queued"),))] == 1
    assert values[(QUEUE_OLDEST_AGE.name, (("queue", "training"),))] >= 0


def test_metrics_still_answer_when_redis_is_down(client, app) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    app.extensions["tensorfleet.redis"] = fakeredis.FakeRedis(server=server)
    response = client.get("/metrics")
    assert response.status_code == 200
    names = {name for name, _ in samples(response.text)}
    assert QUEUE_DEPTH.name not in names and JOBS_BY_STATUS.name in names
