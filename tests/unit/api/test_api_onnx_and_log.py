"""ONNX downloads and engines; the prediction log and monitoring endpoints."""

from __future__ import annotations

import hashlib

import numpy as np
import onnxruntime
import pytest

from app.metrics import PREDICTION_LOG_RECORDS

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture
def flowers(client, trained_model):
    return trained_model(model_name="flowers")["result"]["model_id"]


def _log(app):
    return app.extensions["tensorfleet.prediction_log"]


def test_the_model_records_its_formats_and_serves_the_onnx_file(client, flowers) -> None:
    model = client.get("/api/v1/models/flowers@latest").json
    onnx = model["formats"]["onnx"]
    assert onnx["status"] == "ok" and onnx["agreement"] == 1.0 and onnx["max_abs_diff"] < 1e-3
    assert model["formats"]["joblib"]["sha256"] == model["sha256"]
    response = client.get("/api/v1/models/flowers@latest/download?format=onnx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("flowers-v1.onnx")
    assert hashlib.sha256(response.data).hexdigest() == onnx["sha256"]
    session = onnxruntime.InferenceSession(response.data, providers=["CPUExecutionProvider"])
    feeds = {k: np.array([[v]], dtype=np.float32) for k, v in ROW.items()}
    assert session.run(None, feeds)[0].tolist() == ["setosa"]
    assert client.get("/api/v1/models/flowers@latest/download?format=pmml").status_code == 400


def test_engine_override_and_a_model_without_onnx(client, flowers, app) -> None:
    body = {"dataframe_records": [ROW]}
    sklearn = client.post("/api/v1/models/flowers@v1/predict?engine=sklearn&proba=true", json=body)
    onnx = client.post("/api/v1/models/flowers@v1/predict?engine=onnx&proba=true", json=body)
    assert sklearn.json["engine"] == "sklearn" and onnx.json["engine"] == "onnx"
    assert sklearn.json["predictions"] == onnx.json["predictions"] == ["setosa"]
    assert sklearn.json["classes"] == onnx.json["classes"] == ["setosa", "versicolor", "virginica"]
    diff = np.abs(np.array(sklearn.json["probabilities"]) - np.array(onnx.json["probabilities"]))
    assert diff.max() <= 1e-3
    db = app.extensions["tensorfleet.db"]
    reason = "NotImplementedError: no converter"
    db.models.update_one(
        {"_id": flowers},
        {"$set": {"formats.onnx": {"status": "unsupported", "reason": reason}}},
    )
    app.extensions["tensorfleet.references"].clear()  # else seen within a second
    refused = client.post("/api/v1/models/flowers@v1/predict?engine=onnx", json=body)
    assert refused.status_code == 409 and reason in refused.json["error"]["message"]
    assert client.post("/api/v1/models/flowers@v1/predict", json=body).json["engine"] == "sklearn"
    download = client.get("/api/v1/models/flowers@v1/download?format=onnx")
    assert download.status_code == 409 and reason in download.json["error"]["message"]
    assert client.post("/api/v1/models/flowers@v1/predict?engine=gpu", json=body).status_code == 400


def test_predictions_are_logged_off_thread_and_listed(client, flowers, app) -> None:
    body = {"dataframe_records": [ROW, {**ROW, "petal_length": 5.5, "petal_width": 2.1}]}
    answer = client.post("/api/v1/models/flowers@v1/predict", json=body)
    bad = client.post("/api/v1/models/flowers@v1/predict", json={"dataframe_records": [{"x": 1}]})
    assert answer.status_code == 200 and bad.status_code == 400
    _log(app).flush()
    items = client.get("/api/v1/models/flowers@v1/predictions").json["items"]
    assert [item["status"] for item in items] == ["error", "ok"]  # newest first
    ok = items[1]
    assert ok["inputs"] == body["dataframe_records"] and ok["outputs"] == answer.json["predictions"]
    assert ok["model_id"] == flowers and ok["engine"] == "onnx" and ok["rows"] == 2
    assert ok["request_id"] == answer.headers["X-Request-ID"] and ok["latency_ms"] > 0
    assert "inputs" not in items[0]  # a refused request's data is not kept
    assert len(client.get("/api/v1/models/flowers@v1/predictions?limit=1").json["items"]) == 1
    since = "2999-01-01T00:00:00Z"
    assert client.get(f"/api/v1/models/flowers@v1/predictions?since={since}").json["items"] == []
    assert client.get("/api/v1/models/ghost@v1/predictions").status_code == 404


def test_a_down_prediction_log_loses_no_request(client, flowers, app, monkeypatch) -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    from app.storage.predictions import PredictionRepository

    def down(self, records):
        raise ServerSelectionTimeoutError("MongoDB is away")

    monkeypatch.setattr(PredictionRepository, "insert_many", down)
    failed = PREDICTION_LOG_RECORDS.labels("insert_failed")._value.get()
    body = {"dataframe_records": [ROW]}
    assert client.post("/api/v1/models/flowers@v1/predict", json=body).status_code == 200
    assert _log(app).flush() == 0
    assert PREDICTION_LOG_RECORDS.labels("insert_failed")._value.get() == failed + 1
    monkeypatch.undo()
    assert _log(app).flush() == 1  # kept in the buffer, written once MongoDB is back


def test_sampling_zero_records_nothing(client, flowers, app) -> None:
    _log(app).sample = 0.0
    client.post("/api/v1/models/flowers@v1/predict", json={"dataframe_records": [ROW]})
    assert _log(app).flush() == 0


def test_monitoring_summarizes_traffic_beside_the_training_rows(client, flowers, app) -> None:
    for _ in range(3):
        client.post("/api/v1/models/flowers@v1/predict", json={"dataframe_records": [ROW]})
    client.post("/api/v1/models/flowers@v1/predict", json={"instances": [[1, 2]]})  # refused
    _log(app).flush()
    report = client.get("/api/v1/models/flowers/monitoring?window=600").json
    assert (report["requests"], report["errors"], report["rows"]) == (4, 1, 3)
    assert report["by_version"] == {"1": 4} and report["by_engine"] == {"onnx": 3}
    assert set(report["latency_ms"]) == {"p50", "p95", "p99"} and report["latency_ms"]["p50"] > 0
    assert report["predictions"]["counts"] == {"setosa": 3}
    petal = report["features"]["petal_length"]
    assert petal["serving"]["mean"] == pytest.approx(1.4) and petal["serving"]["count"] == 3
    assert petal["training"]["count"] == 120 and 3 < petal["training"]["mean"] < 4.5
    assert {"p5", "p50", "p95", "std"} <= set(petal["training"])
    assert client.get("/api/v1/models/ghost/monitoring").status_code == 404
    assert client.get("/api/v1/models/flowers/monitoring?version=9").status_code == 404
    assert client.get("/api/v1/models/flowers/monitoring?window=-1").status_code == 400


def test_answered_predictions_go_to_the_prediction_log_not_the_audit(
    client, flowers, app, anonymous
) -> None:
    db = app.extensions["tensorfleet.db"]
    before = db.audit.count_documents({})
    assert client.post("/api/v1/models/flowers@v1/predict",
                       json={"dataframe_records": [ROW]}).status_code == 200  # fmt: skip
    assert db.audit.count_documents({}) == before
    refused = anonymous.post("/api/v1/models/flowers@v1/predict", json={"instances": [ROW]})
    assert refused.status_code == 401
    assert db.audit.count_documents({"status": 401, "path": "/api/v1/models/flowers@v1/predict"})
