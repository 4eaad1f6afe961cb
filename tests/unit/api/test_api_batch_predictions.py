"""Batch prediction jobs: submit (validated, model pinned), run, result, output CSV."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from tests.unit.api.helpers import upload

HEADER = "id,sepal_length,sepal_width,petal_length,petal_width,species\n"


@pytest.fixture
def flowers(client, trained_model):
    trained_model(model_name="flowers")
    client.put("/api/v1/models/flowers/aliases/champion", json={"version": 1})
    return client.get("/api/v1/models/flowers@champion").json


def _scoring_set(client, rows: list[str]) -> dict:
    body = (HEADER + "".join(rows)).encode()
    response = upload(client, body, name="to_score", target="species")
    assert response.status_code == 201, response.json
    return response.json


ROWS = [
    "101,5.1,3.5,1.4,0.2,setosa\n",
    "102,6.7,3.0,5.2,2.3,virginica\n",
    "103,abc,3.0,5.0,1.8,virginica\n",  # not a number: counted, not scored
    "104,5.9,3.0,4.2,1.5,versicolor\n",
]


def _submit(client, **body):
    return client.post("/api/v1/jobs", json={"kind": "predict", **body})


def test_a_batch_job_pins_the_model_and_writes_the_output(client, flowers, run_job) -> None:
    _scoring_set(client, ROWS)
    response = _submit(client, model="flowers@champion", dataset="to_score", proba=True)
    assert response.status_code == 202, response.json
    job = response.json
    assert job["kind"] == "predict" and job["model"] == {
        "id": flowers["model_id"], "name": "flowers", "version": 1,
    }  # fmt: skip
    assert client.get("/api/v1/jobs?kind=predict").json["total"] == 1
    run_job(job["job_id"])
    done = client.get(f"/api/v1/jobs/{job['job_id']}").json
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert (result["rows"], result["predicted_rows"], result["invalid_rows"]) == (4, 3, 1)
    assert result["row_errors"] == [{"row": 2, "column": "sepal_length", "error": "not a number"}]
    output = client.get(f"/api/v1/jobs/{job['job_id']}/output")
    assert output.status_code == 200 and output.mimetype == "text/csv"
    assert output.headers["X-Checksum-SHA256"] == hashlib.sha256(output.data).hexdigest()
    table = list(csv.DictReader(io.StringIO(output.data.decode())))
    assert [row["id"] for row in table] == ["101", "102", "104"]  # the key column
    assert [row["prediction"] for row in table] == ["setosa", "virginica", "versicolor"]
    assert {"proba_setosa", "proba_versicolor", "proba_virginica"} <= set(table[0])
    assert float(table[0]["proba_setosa"]) > 0.5


def test_the_pinned_version_serves_even_after_the_alias_moves(client, flowers, trained_model,
                                                              run_job) -> None:  # fmt: skip
    _scoring_set(client, ROWS[:2])
    job = _submit(client, model="flowers@champion", dataset="to_score").json
    trained_model(model_name="flowers")
    client.put("/api/v1/models/flowers/aliases/champion", json={"version": 2})
    run_job(job["job_id"])
    done = client.get(f"/api/v1/jobs/{job['job_id']}").json
    assert done["result"]["model"]["version"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"model": "flowers@nope", "dataset": "iris"}, 404, None),
        ({"model": "ghost@latest", "dataset": "iris"}, 404, None),
        ({"model": "flowers@champion", "dataset": "no_such"}, 404, None),
        ({"dataset": "iris"}, 400, None),  # no model
        ({"model": "flowers@champion", "dataset": "iris", "algorithm": "knn"}, 400, None),
        ({"model": "flowers@champion", "dataset": "wine"}, 400, "dataset"),  # other columns
    ],
)
def test_bad_batch_submissions_are_refused_and_store_nothing(client, flowers, body, status,
                                                             field) -> None:  # fmt: skip
    response = _submit(client, **body)
    assert response.status_code == status, response.json
    if field:
        assert response.json["error"]["details"]["field"] == field
        assert "sepal_length" in response.json["error"]["details"]["missing"]
    assert client.get("/api/v1/jobs?kind=predict").json["total"] == 0


def test_training_fields_stay_with_training_jobs(client, flowers) -> None:
    response = client.post(
        "/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn", "model": "flowers@v1"}
    )
    assert response.status_code == 400


def test_output_before_success_is_409_and_a_training_job_has_none(client, flowers) -> None:
    _scoring_set(client, ROWS[:2])
    job = _submit(client, model="flowers@v1", dataset="to_score").json
    assert client.get(f"/api/v1/jobs/{job['job_id']}/output").status_code == 409
    training = client.get("/api/v1/jobs?kind=train").json["items"][0]
    assert client.get(f"/api/v1/jobs/{training['job_id']}/output").status_code == 404
    assert client.get("/api/v1/jobs/nope/output").status_code == 404


def test_a_deleted_model_fails_its_queued_batch_job(client, flowers, run_job) -> None:
    _scoring_set(client, ROWS[:2])
    job = _submit(client, model="flowers@v1", dataset="to_score").json
    client.delete("/api/v1/models/flowers/aliases/champion")
    assert client.delete("/api/v1/models/flowers@v1").status_code == 204
    run_job(job["job_id"])
    done = client.get(f"/api/v1/jobs/{job['job_id']}").json
    assert done["status"] == "failed" and done["error"]["type"] == "data", done["error"]
    assert "was deleted" in done["error"]["message"]
