"""``GET /api/v1/models/<ref>/drift``: logged prediction inputs against the training rows
(mongomock), and the input blocks of the prediction log it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.ml.tabular import read_csv
from app.ml.training import prepare_and_split
from app.services import drift as drift_service
from app.storage import predictions as log_storage
from app.storage.predictions import INPUT_COLUMNS, InputBlocks, PredictionRepository
from tests.unit.api.helpers import upload

IRIS = Path(__file__).resolve().parents[3] / "datasets" / "iris.csv"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def flowers(client, trained_model) -> str:
    """An iris knn model's id (120 training rows: statistical tests)."""
    return trained_model(model_name="flowers")["result"]["model_id"]


def _training_rows(count: int, seed: int, shift: float = 0.0) -> list[dict[str, float]]:
    """``count`` rows drawn from iris's training split (``shift`` std added to each)."""
    train = prepare_and_split(read_csv(IRIS.read_bytes()), "species", "classification", 0.2, 42)
    rows = train[0].sample(count, replace=True, random_state=seed)
    rows = rows + shift * train[0].std()
    return rows.to_dict("records")


def _predict(client, app, ref: str, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 50):
        answer = client.post(
            f"/api/v1/models/{ref}/predict", json={"dataframe_records": rows[start : start + 50]}
        )
        assert answer.status_code == 200, answer.json
        app.extensions["tensorfleet.prediction_log"].flush()  # one flush per request


def test_bad_windows_are_400_and_an_unknown_model_404(client, flowers) -> None:
    base = "/api/v1/models/flowers@latest/drift"
    for query in ("?since=yesterday", "?until=2026-13-01", "?since=2026-01-02&until=2026-01-01",
                  "?until=0001-01-01T00:00:00", "?window=60"):  # fmt: skip
        response = client.get(base + query)
        assert response.status_code == 400, (query, response.json)
        assert response.json["error"]["code"] == "validation_error"
    assert client.get("/api/v1/models/ghost@latest/drift").status_code == 404
    assert client.get("/api/v1/models/flowers@v9/drift").json["error"]["code"] == "not_found"


def test_too_few_logged_rows_is_409_not_enough_data(client, app, flowers) -> None:
    _predict(client, app, "flowers@v1", _training_rows(10, seed=1))
    response = client.get("/api/v1/models/flowers@v1/drift")
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "not_enough_data"
    assert error["details"]["rows"] == 10 and error["details"]["min_rows"] == 30


def test_training_like_inputs_do_not_drift_and_shifted_ones_do(client, app, flowers) -> None:
    _predict(client, app, "flowers@v1", _training_rows(100, seed=2))
    calm = client.get("/api/v1/models/flowers@v1/drift")
    assert calm.status_code == 200, calm.json
    report = calm.json
    assert report["drift"] is False and report["method"] == "tests"
    assert report["reference"] == {"dataset": "iris", "version": 1, "rows": 120, "split": "train"}
    assert report["window"]["rows"] == 100 and report["window"]["truncated"] is False
    assert set(report["features"]) == set(FEATURES)
    for feature in report["features"].values():
        assert feature["test"] == "ks" and feature["drift"] is False
        assert {"statistic", "p_value", "psi", "threshold"} <= set(feature)
    middle = datetime.now(UTC).isoformat()
    _predict(client, app, "flowers@v1", _training_rows(60, seed=3, shift=3.0))
    moved = client.get("/api/v1/models/flowers@v1/drift", query_string={"since": middle}).json
    assert moved["drift"] is True and moved["window"]["rows"] == 60
    assert moved["drifted_features"] == 4 and moved["share"] == 1.0
    assert all(f["p_value"] < 0.05 and f["psi"] > 0.25 for f in moved["features"].values())
    both = client.get("/api/v1/models/flowers@v1/drift").json
    assert both["window"]["rows"] == 160


def test_a_categorical_feature_and_a_deleted_dataset(client, app, run_job) -> None:
    rng = np.random.default_rng(0)
    lines = [f"{x:.3f},{rng.choice(['red', 'green', 'blue'])},{i % 2}" for i, x in
             enumerate(rng.normal(size=200))]  # fmt: skip
    assert upload(client, ("x,color,y\n" + "\n".join(lines)).encode(), "paint", "y").status_code
    job = client.post(
        "/api/v1/jobs", json={"dataset": "paint", "algorithm": "decision_tree", "model_name": "p"}
    ).json
    run_job(job["job_id"])
    rows = [{"x": float(v), "color": "red"} for v in rng.normal(size=40)]
    _predict(client, app, "p@v1", rows)
    report = client.get("/api/v1/models/p@v1/drift").json
    color = report["features"]["color"]
    assert color["type"] == "categorical" and color["test"] == "chisquare"
    assert color["drift"] is True and report["features"]["x"]["drift"] is False
    assert report["drift"] is True  # one of two features: half
    assert client.delete("/api/v1/datasets/paint").status_code == 204
    drift_service._references.clear()  # else the training rows read before are used
    gone = client.get("/api/v1/models/p@v1/drift")
    assert gone.status_code == 409 and gone.json["error"]["code"] == "reference_unavailable"


def test_the_log_keeps_inputs_as_columns_in_few_blocks(client, app, flowers, loaded_db) -> None:
    _predict(client, app, "flowers@v1", _training_rows(150, seed=4))  # 3 requests, 3 flushes
    record = loaded_db.predictions.find_one({"model_id": flowers})
    assert INPUT_COLUMNS not in record and len(record["inputs"]) == 50
    blocks = list(loaded_db.prediction_inputs.find({"model_id": flowers}))
    assert len(blocks) == 1 and blocks[0]["rows"] == 150  # extended, the shorter ones gone
    assert blocks[0]["features"] == FEATURES and "replaces" in blocks[0]
    listed = client.get("/api/v1/models/flowers@v1/predictions").json["items"]
    assert [len(item["inputs"]) for item in listed] == [50, 50, 50]


def _records(model_id: str, start: datetime, count: int, rows: int) -> list[dict[str, Any]]:
    return [
        {
            "model_id": model_id,
            "model_name": "m",
            "model_version": 1,
            "at": start + timedelta(seconds=i),
            "expires_at": start + timedelta(days=30),
            "status": "ok",
            INPUT_COLUMNS: {
                "x": np.full(rows, float(i)),
                "c": np.array(["a", None, 3][: rows % 3 + 1] * rows, dtype=object)[:rows],
            },
        }
        for i in range(count)
    ]


def test_blocks_split_grow_and_window_the_newest_rows(db, monkeypatch) -> None:
    monkeypatch.setattr(log_storage, "BLOCK_ROWS", 10)
    monkeypatch.setattr(log_storage, "BLOCK_MAX_ROWS", 25)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    repo = PredictionRepository(db)
    repo.insert_many(_records("m1", start, 3, 2))  # 6 rows: an open block
    repo.insert_many(_records("m1", start + timedelta(seconds=3), 2, 2))  # grown to 10: sealed
    repo.insert_many(_records("m1", start + timedelta(seconds=5), 1, 60))  # 60 rows: 25+25+10
    sizes = sorted(b["rows"] for b in db.prediction_inputs.find())
    assert sizes == [10, 10, 25, 25]
    blocks = InputBlocks(db)
    everything = blocks.window("m1", start, start + timedelta(hours=1), 1000)
    assert everything.rows == 70 and not everything.truncated and len(everything.numeric["x"]) == 70
    assert sum(everything.categorical["c"].values()) + everything.missing["c"] == 70
    newest = blocks.window("m1", start, start + timedelta(hours=1), 30)
    assert newest.rows == 30 and newest.truncated and set(newest.numeric["x"]) == {0.0}
    early = blocks.window("m1", start, start + timedelta(seconds=2), 1000)
    assert sorted(set(early.numeric["x"])) == [0.0, 1.0, 2.0] and early.rows == 6
    assert blocks.window("m2", start, start + timedelta(hours=1), 1000).rows == 0
