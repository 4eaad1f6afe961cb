"""``drift_check_seconds``: how long ``GET /api/v1/models/<ref>/drift`` takes with 100,000
logged input rows of 20 features.

Setup (untimed): a synthetic 20,000 x 20 classification CSV (``synthetic_csv``, seed 5)
uploaded with ``POST /datasets``, one ``decision_tree`` job on it (16,000 training rows:
the check uses distances), then ``drift_rows`` one-row prediction records inserted straight
into MongoDB by the API's own repository (``PredictionRepository.insert_many``, in batches
of ``PREDICTION_LOG_BATCH``, as the API's log writer inserts them: the records and the input
blocks a drift check reads), spread over the last hour. The rows are training rows drawn
with replacement, the first 5 features shifted by one standard deviation (so some features
drift and some do not).

- value: the median wall time (s) of ``drift_requests`` GETs of the default window (the
  last 24 hours: every logged row) over one keep-alive connection; the first request of the
  run also reads and parses the training data (``details.first_request_s``).
- baseline: the same statistics (``app.ml.drift``) computed in the bench process on numpy
  arrays already in memory (the training split and the logged rows), a reference point.

Every answer must be 200, hold ``drift_rows`` window rows and every feature, or the figure
fails.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

import pandas as pd
from bson import ObjectId

from app.config import Settings
from app.ml.drift import SMALL_REFERENCE_ROWS, dataset_drift, numeric_drift
from app.ml.tabular import read_csv
from app.ml.training import prepare_and_split
from app.storage.mongo import utcnow
from app.storage.predictions import INPUT_COLUMNS, PredictionRepository
from bench.harness import Api, BenchError, Harness, Tier, synthetic_csv
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

DATASET, MODEL_NAME, SEED = "bench_drift", "bench_drift", 5
SHIFTED_FEATURES = 5  # the first features of the logged rows, moved by one std
BATCH = Settings.model_fields["prediction_log_batch"].default


def drift_check_seconds(h: Harness, tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Seed the log, then time the drift check through HTTP and in-process."""
    fig = Figure("drift_check_seconds", "s", "<=", 3.0, goal_on="value")
    csv = synthetic_csv(sizes.drift_reference_rows, sizes.drift_features, seed=SEED)
    with Api(tier) as api:
        api.ensure_dataset(DATASET, csv, "label")
        body = {"dataset": DATASET, "algorithm": "decision_tree", "model_name": MODEL_NAME,
                "hyperparameters": {"max_depth": 4}}  # fmt: skip
        _, job = api.run_job(body, 120)
        model = api.model(job["result"]["model_id"])
        train = prepare_and_split(read_csv(csv), "label", "classification", 0.2, 42)[0]
        window = _window(train, sizes.drift_rows)
        started = time.perf_counter()
        _seed(h, model, window)
        seed_s = time.perf_counter() - started
        url = f"{api.base}/models/{model['model_id']}/drift"
        first_s, first = _get(api, url, sizes.drift_rows, len(model["features"]))
        for _ in range(sizes.rounds):
            walls = [_get(api, url, sizes.drift_rows, len(model["features"]))[0]
                     for _ in range(sizes.drift_requests)]  # fmt: skip
            fig.add(statistics.median(walls), _in_process(train, window))
            progress.step()
    fig.details = {
        "first_request_s": round(first_s, 3),
        "request_s": [round(w, 3) for w in walls],
        "drift": first["drift"],
        "drifted_features": first["drifted_features"],
        "method": first["method"],
        "window_rows": first["window"]["rows"],
        "reference": first["reference"],
        "features": len(model["features"]),
        "log_records": sizes.drift_rows,
        "seed_s": round(seed_s, 1),
        "value_is": "median wall time of GET /api/v1/models/<id>/drift (every logged row)",
        "baseline_is": "app.ml.drift on the same arrays already in memory, in-process",
    }
    return fig


def _window(train: pd.DataFrame, rows: int) -> pd.DataFrame:
    """``rows`` training rows drawn with replacement, the first features shifted."""
    drawn = train.sample(rows, replace=True, random_state=SEED).reset_index(drop=True)
    for column in list(train.columns)[:SHIFTED_FEATURES]:
        drawn[column] = drawn[column] + train[column].std()
    return drawn


def _seed(h: Harness, model: dict[str, Any], window: pd.DataFrame) -> None:
    """One prediction record per row, inserted as the API's log writer inserts them."""
    repo, now = PredictionRepository(h.mongo()), utcnow()
    values = {column: window[column].to_numpy(dtype=float) for column in model["features"]}
    step = timedelta(hours=1) / max(len(window), 1)
    for start in range(0, len(window), BATCH):
        records = []
        for i in range(start, min(start + BATCH, len(window))):
            row = {f: float(v[i]) for f, v in values.items()}
            at = now - timedelta(hours=1) + i * step
            records.append({
                "model_id": model["model_id"], "model_name": model["name"],
                "model_version": model["version"], "latency_ms": 1.0, "engine": "onnx",
                "request_id": str(ObjectId()), "status": "ok", "rows": 1, "inputs": [row],
                "outputs": ["c0"], INPUT_COLUMNS: {f: v[i : i + 1] for f, v in values.items()},
                "at": at, "expires_at": at + timedelta(days=30),
            })  # fmt: skip
        repo.insert_many(records)


def _get(api: Api, url: str, rows: int, features: int) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = api.session.get(url, timeout=120)
    wall = time.perf_counter() - start
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    answer = response.json()
    if answer["window"]["rows"] != rows or len(answer["features"]) != features:
        raise BenchError(f"the drift check saw {answer['window']} and {len(answer['features'])}")
    return wall, answer


def _in_process(train: pd.DataFrame, window: pd.DataFrame) -> float:
    """Seconds of the same statistics on arrays in memory."""
    reference = {c: train[c].to_numpy(dtype=float) for c in train.columns}
    served = {c: window[c].to_numpy(dtype=float) for c in train.columns}
    small = len(train) <= SMALL_REFERENCE_ROWS
    start = time.perf_counter()
    features = {c: numeric_drift(reference[c], served[c], small) for c in reference}
    dataset_drift(features)
    return time.perf_counter() - start
