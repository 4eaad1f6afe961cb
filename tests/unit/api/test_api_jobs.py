"""POST/GET/cancel /api/v1/jobs on mongomock + fakeredis, publishing recorded."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from app.tasks.celery_app import TRAIN_TASK


def submit(client, **body):
    return client.post(
        "/api/v1/jobs", json={"dataset": "iris", "algorithm": "random_forest", **body}
    )


def test_submit_answers_202_with_location_and_publishes_one_json_message(client, celery) -> None:
    response = submit(client, hyperparameters={"n_estimators": 10})
    assert response.status_code == 202
    job = response.json
    assert response.headers["Location"] == f"/api/v1/jobs/{job['job_id']}"
    assert job["status"] == "queued" and job["model_name"] == "iris_random_forest"
    assert job["dataset_version"] == 1 and job["hyperparameters"]["n_estimators"] == 10
    assert job["hyperparameters"]["max_depth"] is None  # the full effective set
    assert job["progress"] == {"stage": "queued", "percent": 0}
    assert [(m["name"], m["args"], m["task_id"]) for m in celery.sent] == [
        (TRAIN_TASK, [job["job_id"]], job["job_id"])
    ]
    assert celery.conf.task_serializer == "json" and celery.conf.accept_content == ["json"]


def test_get_returns_the_stored_job(client) -> None:
    job_id = submit(client).json["job_id"]
    body = client.get(f"/api/v1/jobs/{job_id}").json
    assert body["job_id"] == job_id and body["status"] == "queued"
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"dataset": "nope"}, 404, None),
        ({"algorithm": "deep_magic"}, 400, "algorithm"),
        ({"hyperparameters": {"n_trees": 3}}, 400, "hyperparameters.n_trees"),
        ({"hyperparameters": {"n_estimators": -1}}, 400, "hyperparameters.n_estimators"),
        ({"hyperparameters": {"n_estimators": "many"}}, 400, "hyperparameters.n_estimators"),
        ({"hyperparameters": {"n_estimators": 5000}}, 400, "hyperparameters.n_estimators"),
        ({"algorithm": "linear_regression"}, 400, "algorithm"),
        ({"test_size": 1.5}, 400, "test_size"),
        ({"colour": "blue"}, 400, "colour"),
        ({"model_name": "bad name!"}, 400, "model_name"),
        ({"target": "no_such_column"}, 400, "target"),
        (
            {"algorithm": "knn", "hyperparameters": {"n_neighbors": 121}},
            400,
            "hyperparameters.n_neighbors",
        ),
        (
            {"algorithm": "gradient_boosting", "hyperparameters": {"loss": "exponential"}},
            400,
            "hyperparameters.loss",
        ),
    ],
)
def test_bad_submissions_are_rejected_and_change_nothing(
    client, loaded_db, celery, body, status, field
) -> None:
    response = submit(client, **body)
    assert response.status_code == status, response.json
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    if field:
        assert error["details"]["field"] == field
    assert loaded_db.jobs.count_documents({}) == 0 and celery.sent == []


def test_unknown_algorithm_lists_the_allowed_ones(client) -> None:
    details = submit(client, algorithm="deep_magic").json["error"]["details"]
    assert "random_forest" in details["allowed"] and "ridge" in details["allowed"]


def test_malformed_json_is_400_not_500(client, loaded_db) -> None:
    response = client.post("/api/v1/jobs", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json["error"]["message"]


def test_broker_down_answers_503_and_leaves_no_queued_job(client, celery, loaded_db) -> None:
    celery.fail_with = OperationalError("Error 111 connecting to redis")
    response = submit(client)
    assert response.status_code == 503
    assert response.json["error"]["details"] == {"service": "redis"}
    assert loaded_db.jobs.count_documents({}) == 0


def test_list_filters_and_paginates_newest_first(client) -> None:
    ids = [submit(client, model_name=f"m{i % 2}").json["job_id"] for i in range(5)]
    page = client.get("/api/v1/jobs?limit=2&page=1").json
    assert page["total"] == 5 and [j["job_id"] for j in page["items"]] == ids[::-1][:2]
    only = client.get("/api/v1/jobs?model_name=m1").json
    assert {j["job_id"] for j in only["items"]} == {ids[1], ids[3]}
    assert client.get("/api/v1/jobs?status=bogus").status_code == 400
    assert client.get("/api/v1/jobs?limit=1000").status_code == 400


def test_cancel_queued_job_ends_it_and_second_cancel_conflicts(client, loaded_db) -> None:
    job_id = submit(client).json["job_id"]
    response = client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 202 and response.json["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json["error"]["details"]["status"] == "cancelled"


def test_wait_returns_at_once_for_a_finished_job(client, loaded_db) -> None:
    job_id = submit(client).json["job_id"]
    client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert client.get(f"/api/v1/jobs/{job_id}?wait=30").json["status"] == "cancelled"


def test_unknown_job_is_404_json(client) -> None:
    response = client.get("/api/v1/jobs/does-not-exist")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_n_neighbors_up_to_the_training_rows_is_accepted(client) -> None:
    # iris: 150 rows, test_size 0.2 → 120 training rows
    response = submit(client, algorithm="knn", hyperparameters={"n_neighbors": 120})
    assert response.status_code == 202, response.json
