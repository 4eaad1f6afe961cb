"""Drift checks on the local stack: predictions logged through the real predict route (the
API's off-thread log writing input blocks to nx-27017), then ``GET .../drift``: rows drawn
from the training data do not drift, shifted rows do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.ml.tabular import read_csv
from app.ml.training import prepare_and_split
from localstack import LocalStack
from tests.integration.helpers import api_client, submit_and_wait, unique

IRIS = Path(__file__).resolve().parents[2] / "datasets" / "iris.csv"


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[Any]:
    with api_client(stack) as client:
        yield client


@pytest.fixture(scope="module")
def model(api: Any) -> str:
    """A decision tree on iris (its job's split: test_size 0.2, random_state 42)."""
    job = submit_and_wait(api, dataset="iris", algorithm="decision_tree", model_name=unique("d"))
    assert job["status"] == "succeeded", job
    return job["result"]["model_id"]


def _training_split() -> pd.DataFrame:
    frame = read_csv(IRIS.read_bytes())
    return prepare_and_split(frame, "species", "classification", 0.2, 42)[0]


def _log(api: Any, model: str, rows: pd.DataFrame) -> None:
    """Predict ``rows`` (50 a request) through the API: each request is logged."""
    for start in range(0, len(rows), 50):
        part = rows.iloc[start : start + 50]
        body = {"dataframe_split": {"columns": list(part.columns), "data": part.values.tolist()}}
        answer = api.post(f"/api/v1/models/{model}/predict", json=body)
        assert answer.status_code == 200, answer.text


def _drift(api: Any, model: str, rows: int, **window: str) -> dict[str, Any]:
    """The drift check once the log holds ``rows`` rows in the window (written within ~1 s)."""
    deadline = time.monotonic() + 15
    while True:
        response = api.get(f"/api/v1/models/{model}/drift", params=window)
        seen = response.json()
        if response.status_code == 200 and seen["window"]["rows"] >= rows:
            assert seen["window"]["rows"] == rows, seen["window"]
            return seen
        assert response.status_code in (200, 409), response.text
        assert time.monotonic() < deadline, f"{rows} rows not logged in 15 s: {seen}"
        time.sleep(0.3)


def test_training_rows_do_not_drift_and_shifted_rows_do(api: Any, model: str) -> None:
    split = _training_split()
    few = api.get(f"/api/v1/models/{model}/drift")
    assert few.status_code == 409 and few.json()["error"]["code"] == "not_enough_data"
    assert api.get(f"/api/v1/models/{model}/drift", params={"since": "soon"}).status_code == 400

    _log(api, model, split.sample(150, replace=True, random_state=7))
    calm = _drift(api, model, 150)
    assert calm["drift"] is False and calm["method"] == "tests", calm
    assert calm["reference"] == {"dataset": "iris", "version": 1, "rows": 120, "split": "train"}
    assert {f["test"] for f in calm["features"].values()} == {"ks"}
    assert not any(f["drift"] for f in calm["features"].values()), calm["features"]

    middle = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    shifted = split.sample(100, replace=True, random_state=8) + 3 * split.std()
    _log(api, model, shifted)
    moved = _drift(api, model, 100, since=middle)
    assert moved["drift"] is True and moved["drifted_features"] == 4, moved
    assert all(f["p_value"] < 0.05 and f["psi"] > 0.25 for f in moved["features"].values())
    assert _drift(api, model, 250)["window"]["rows"] == 250  # both, the last 24 hours
    until = _drift(api, model, 150, until=middle)
    assert until["drift"] is False
