"""/metrics and the models endpoints on mongomock + fakeredis (models trained by a direct run)."""

from __future__ import annotations

import hashlib

import fakeredis
from prometheus_client.parser import text_string_to_metric_families

from app.tasks.runner import TrainingRun


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def trained_model(client, loaded_db, settings, **body) -> dict:
    job_id = client.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn", **body}).json[
        "job_id"
    ]
    TrainingRun(loaded_db, settings, job_id, "w").run()
    return client.get(f"/api/v1/jobs/{job_id}").json


def test_metrics_count_requests_by_route_not_by_id(client) -> None:
    before = samples(client.get("/metrics").text)
    client.get("/api/v1/jobs/unknown-id")
    after = samples(client.get("/metrics").text)
    key = (
        "tensorfleet_api_requests_total",
        (("endpoint", "/api/v1/jobs/<job_id>"), ("method", "GET"), ("status", "404")),
    )
    assert after[key] - before.get(key, 0) == 1
    assert not any("unknown-id" in str(labels) for _, labels in after)


def test_metrics_report_queue_depth_and_jobs_by_status(client, redis) -> None:
    redis.rpush("training", "m1", "m2")
    client.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"})
    values = samples(client.get("/metrics").text)
    assert values[("tensorfleet_queue_depth", (("queue", "training"),))] == 2
    assert values[("tensorfleet_jobs", (("status", "queued"),))] == 1
    assert values[("tensorfleet_queue_oldest_job_age_seconds", (("queue", "training"),))] >= 0


def test_metrics_still_answer_when_redis_is_down(client, app) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    app.extensions["tensorfleet.redis"] = fakeredis.FakeRedis(server=server)
    response = client.get("/metrics")
    assert response.status_code == 200
    names = {name for name, _ in samples(response.text)}
    assert "tensorfleet_queue_depth" not in names and "tensorfleet_jobs" in names


def test_download_streams_the_artifact_with_its_versioned_filename(
    client, loaded_db, settings
) -> None:
    job = trained_model(client, loaded_db, settings, model_name="dl")
    model_id = job["result"]["model_id"]
    model = client.get(f"/api/v1/models/{model_id}").json
    response = client.get(f"/api/v1/models/{model_id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=dl-v1.joblib"
    assert hashlib.sha256(response.data).hexdigest() == model["sha256"]
    assert int(response.headers["Content-Length"]) == model["size_bytes"] == len(response.data)


def test_delete_removes_document_and_file(client, loaded_db, settings) -> None:
    model_id = trained_model(client, loaded_db, settings)["result"]["model_id"]
    assert client.delete(f"/api/v1/models/{model_id}").status_code == 204
    assert client.get(f"/api/v1/models/{model_id}").status_code == 404
    assert client.get(f"/api/v1/models/{model_id}/download").status_code == 404
    assert loaded_db["fs.files"].count_documents({"metadata.kind": "model"}) == 0


def test_model_list_filters_sorts_and_statistics(client, loaded_db, settings) -> None:
    trained_model(client, loaded_db, settings, model_name="a")
    trained_model(client, loaded_db, settings, model_name="a", hyperparameters={"n_neighbors": 1})
    trained_model(client, loaded_db, settings, model_name="b")
    listing = client.get("/api/v1/models?name=a&sort=-version").json
    assert listing["total"] == 2 and [m["version"] for m in listing["items"]] == [2, 1]
    assert client.get("/api/v1/models?sort=bogus").status_code == 400
    stats = client.get("/api/v1/statistics").json
    assert stats["models"]["by_algorithm"] == {"knn": 3}
    assert stats["jobs"]["by_status"]["succeeded"] == 3
    assert stats["models"]["scores"]["classification"]["knn"]["count"] == 3
