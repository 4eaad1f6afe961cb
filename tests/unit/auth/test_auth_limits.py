"""Rate limits: separate budgets for writes and reads, per key; 429 with Retry-After."""

from __future__ import annotations

import pytest

from app import create_app
from tests.unit.auth.conftest import bearer
from tests.unit.conftest import ADMIN_KEY


@pytest.fixture
def limited(settings, loaded_db, redis, celery):
    overrides = {
        **settings.model_dump(),
        "tensorfleet_admin_key": ADMIN_KEY,
        "artifact_signing_key": "s" * 32,
        "rate_limit_writes": "2/minute",
        "rate_limit_reads": "3/minute",
    }
    app = create_app(overrides, db=loaded_db, redis=redis, celery=celery)
    return app.test_client()


def test_the_third_write_in_a_minute_is_429_with_retry_after(limited, loaded_db) -> None:
    auth = bearer(ADMIN_KEY)
    body = {"dataset": "iris", "algorithm": "knn"}
    statuses = [limited.post("/api/v1/jobs", json=body, headers=auth).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    refused = limited.post("/api/v1/jobs", json=body, headers=auth)
    assert refused.json["error"]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0
    assert (
        refused.headers["X-RateLimit-Limit"] == "2"
        and refused.headers["X-RateLimit-Remaining"] == "0"
    )
    assert loaded_db.jobs.count_documents({}) == 2
    assert loaded_db.audit.count_documents({"status": 429}) == 2


def test_reads_have_their_own_budget(limited) -> None:
    auth = bearer(ADMIN_KEY)
    for _ in range(2):
        limited.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"}, headers=auth)
    assert [limited.get("/api/v1/jobs", headers=auth).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]


def test_requests_without_a_key_are_counted_by_client_address(limited) -> None:
    statuses = [limited.get("/api/v1/jobs").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_health_and_metrics_are_never_limited(limited) -> None:
    assert {limited.get("/health").status_code for _ in range(6)} == {200}


def test_predictions_have_their_own_budget(settings, loaded_db, redis, celery, run_job) -> None:
    overrides = {
        **settings.model_dump(),
        "tensorfleet_admin_key": ADMIN_KEY,
        "artifact_signing_key": settings.artifact_signing_key.get_secret_value(),
        "rate_limit_writes": "2/minute",
        "rate_limit_predictions": "3/minute",
    }
    client = create_app(overrides, db=loaded_db, redis=redis, celery=celery).test_client()
    auth = bearer(ADMIN_KEY)
    job = client.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"}, headers=auth)
    run_job(job.json["job_id"])
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    predict = [
        client.post(
            "/api/v1/models/iris_knn@latest/predict", json={"instances": [row]}, headers=auth
        ).status_code
        for _ in range(4)
    ]
    assert predict == [200, 200, 200, 429]  # not counted against the write budget
    refused = client.post("/api/v1/models/iris_knn@latest/predict", json={"instances": [row]},
                          headers=auth)  # fmt: skip
    assert refused.json["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert loaded_db.audit.count_documents({"status": 429}) == 2  # refusals are audited
    body = {"dataset": "iris", "algorithm": "knn"}
    assert client.post("/api/v1/jobs", json=body, headers=auth).status_code == 202
