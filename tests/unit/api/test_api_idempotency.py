"""Idempotency-Key on POST /jobs and POST /datasets: a retry never makes a second resource."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.unit.api.helpers import TOY, upload

BODY = {"dataset": "iris", "algorithm": "knn"}


def test_the_same_key_and_body_replays_the_original_answer(client, loaded_db, celery) -> None:
    first = client.post("/api/v1/jobs", json=BODY, headers={"Idempotency-Key": "k1"})
    again = client.post(
        "/api/v1/jobs", json=dict(reversed(BODY.items())), headers={"Idempotency-Key": "k1"}
    )
    assert first.status_code == again.status_code == 202
    assert again.json["job_id"] == first.json["job_id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert loaded_db.jobs.count_documents({}) == 1 and len(celery.sent) == 1


def test_the_same_key_with_another_body_is_422(client, loaded_db) -> None:
    client.post("/api/v1/jobs", json=BODY, headers={"Idempotency-Key": "k2"})
    other = client.post(
        "/api/v1/jobs", json={**BODY, "algorithm": "svm"}, headers={"Idempotency-Key": "k2"}
    )
    assert other.status_code == 422 and other.json["error"]["details"]["field"] == "Idempotency-Key"
    assert loaded_db.jobs.count_documents({}) == 1


def test_a_refused_request_is_replayed_too(client, loaded_db) -> None:
    bad = {**BODY, "hyperparameters": {"n_neighbors": -1}}
    assert (
        client.post("/api/v1/jobs", json=bad, headers={"Idempotency-Key": "k3"}).status_code == 400
    )
    again = client.post("/api/v1/jobs", json=bad, headers={"Idempotency-Key": "k3"})
    assert again.status_code == 400 and again.headers["Idempotent-Replayed"] == "true"


def test_a_server_side_failure_releases_the_key(client, celery, loaded_db) -> None:
    from kombu.exceptions import OperationalError

    celery.fail_with = OperationalError("broker down")
    assert (
        client.post("/api/v1/jobs", json=BODY, headers={"Idempotency-Key": "k4"}).status_code == 503
    )
    celery.fail_with = None
    retry = client.post("/api/v1/jobs", json=BODY, headers={"Idempotency-Key": "k4"})
    assert retry.status_code == 202 and "Idempotent-Replayed" not in retry.headers


def test_keys_are_scoped_per_api_key(client, anonymous, loaded_db) -> None:
    created = client.post("/api/v1/keys", json={"name": "t", "scopes": ["train"]}).json
    client.post("/api/v1/jobs", json=BODY, headers={"Idempotency-Key": "shared"})
    other = anonymous.post(
        "/api/v1/jobs",
        json=BODY,
        headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {created['key']}"},
    )
    assert other.status_code == 202 and "Idempotent-Replayed" not in other.headers
    assert loaded_db.jobs.count_documents({}) == 2


def test_a_dataset_upload_retried_with_a_new_boundary_is_the_same_request(
    client, loaded_db
) -> None:
    first = upload(client, TOY, headers={"Idempotency-Key": "u1"})
    again = upload(client, TOY, headers={"Idempotency-Key": "u1"})
    assert first.status_code == 201 and again.json["version"] == first.json["version"] == 1
    assert loaded_db.datasets.count_documents({"name": "toy"}) == 1


def test_ten_concurrent_identical_submits_make_one_job(app, loaded_db) -> None:
    from tests.unit.conftest import ADMIN_KEY

    def submit(_: int) -> tuple[int, str | None]:
        response = app.test_client().post(
            "/api/v1/jobs",
            json=BODY,
            headers={"Idempotency-Key": "burst", "Authorization": f"Bearer {ADMIN_KEY}"},
        )
        return response.status_code, (response.json or {}).get("job_id")

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(submit, range(10)))
    assert loaded_db.jobs.count_documents({}) == 1
    ids = {job_id for status, job_id in answers if status == 202}
    assert len(ids) == 1 and all(status in (202, 409) for status, _ in answers)
