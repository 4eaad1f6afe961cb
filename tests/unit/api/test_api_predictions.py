"""POST /api/v1/models/<ref>/predict: MLflow's formats, CSV, bad inputs, the cache."""

from __future__ import annotations

import json

import pytest

from app.metrics import MODEL_CACHE_EVENTS, PREDICTIONS
from tests.unit.auth.conftest import bearer

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
COLUMNS = list(ROW)


@pytest.fixture
def iris_model(client, trained_model):
    job = trained_model(model_name="flowers")
    client.put("/api/v1/models/flowers/aliases/champion", json={"version": 1})
    return job["result"]["model_id"]


BODIES = {
    "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": [list(ROW.values())]}},
    "dataframe_records": {"dataframe_records": [ROW]},
    "instances-records": {"instances": [ROW]},
    "instances-rows": {"instances": [list(ROW.values())]},
    "inputs-columns": {"inputs": {k: [v] for k, v in ROW.items()}},
    "inputs-records": {"inputs": [ROW]},
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES)
def test_every_mlflow_format_predicts_the_same(client, iris_model, body) -> None:
    response = client.post("/api/v1/models/flowers@champion/predict", json=body)
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["predictions"] == ["setosa"]
    assert answer["model"] == {"id": iris_model, "name": "flowers", "version": 1}
    assert answer["engine"] == "onnx"  # the ONNX copy passed parity at training


def test_a_csv_body_and_probabilities(client, iris_model) -> None:
    csv = ",".join(COLUMNS) + "\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
    response = client.post(
        "/api/v1/models/flowers@v1/predict?proba=true", data=csv, content_type="text/csv"
    )
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["predictions"][0] == "setosa" and len(answer["predictions"]) == 2
    assert answer["classes"] == ["setosa", "versicolor", "virginica"]
    assert all(abs(sum(p) - 1) < 1e-5 for p in answer["probabilities"])


@pytest.mark.parametrize(
    ("rows", "kind", "column"),
    [
        ([{k: v for k, v in ROW.items() if k != "petal_width"}], "missing", "petal_width"),
        ([{**ROW, "colour": "red"}], "unknown", "colour"),
        ([{**ROW, "sepal_length": "very long"}], "wrong_type", "sepal_length"),
        ([{**ROW, "sepal_width": True}], "wrong_type", "sepal_width"),
    ],
)
def test_bad_columns_are_400_naming_each_without_echoing_data(
    client, iris_model, rows, kind, column
) -> None:
    response = client.post("/api/v1/models/flowers@v1/predict", json={"dataframe_records": rows})
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["details"][kind] == [column] and column in error["message"]
    assert "very long" not in json.dumps(error) and "red" not in json.dumps(error)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"instances": [ROW], "inputs": [ROW]},
        {"dataframe_split": {"columns": COLUMNS}},
        {"instances": [[1, 2]]},
        {"instances": "nope"},
        {"dataframe_records": []},
    ],
)
def test_malformed_bodies_are_400(client, iris_model, body) -> None:
    response = client.post("/api/v1/models/flowers@v1/predict", json=body)
    assert response.status_code == 400, response.json


def test_too_many_rows_is_413_and_other_media_415(client, app, iris_model) -> None:
    app.extensions["tensorfleet.settings"].predict_max_rows = 2
    many = {"dataframe_records": [ROW] * 3}
    assert client.post("/api/v1/models/flowers@v1/predict", json=many).status_code == 413
    other = client.post("/api/v1/models/flowers@v1/predict", data="x", content_type="text/plain")
    assert other.status_code == 415


def test_unknown_references_are_404(client, iris_model) -> None:
    for ref in ("flowers@nope", "flowers@v9", "nobody@latest"):
        body = {"dataframe_records": [ROW]}
        assert client.post(f"/api/v1/models/{ref}/predict", json=body).status_code == 404


def test_the_model_is_loaded_once_and_an_alias_move_takes_effect_at_once(
    client, trained_model, iris_model
) -> None:
    misses = MODEL_CACHE_EVENTS.labels("miss")._value.get()
    body = {"dataframe_records": [ROW]}
    for _ in range(3):
        client.post("/api/v1/models/flowers@champion/predict", json=body)
    assert MODEL_CACHE_EVENTS.labels("miss")._value.get() == misses + 1
    trained_model(model_name="flowers", hyperparameters={"n_neighbors": 1})
    client.put("/api/v1/models/flowers/aliases/champion", json={"version": 2})
    answer = client.post("/api/v1/models/flowers@champion/predict", json=body).json
    assert answer["model"]["version"] == 2


def test_predicting_needs_the_predict_scope(client, anonymous, iris_model) -> None:
    reader = client.post("/api/v1/keys", json={"name": "r", "scopes": ["read"]}).json
    predictor = client.post("/api/v1/keys", json={"name": "p", "scopes": ["predict"]}).json
    body = {"dataframe_records": [ROW]}
    url = "/api/v1/models/flowers@v1/predict"
    assert anonymous.post(url, json=body, headers=bearer(reader["key"])).status_code == 403
    served = PREDICTIONS.labels("flowers", "served")._value.get()
    assert anonymous.post(url, json=body, headers=bearer(predictor["key"])).status_code == 200
    assert PREDICTIONS.labels("flowers", "served")._value.get() == served + 1
