"""Monitoring of a served model from its prediction log: traffic, latency, drift.

``GET /models/<name>/monitoring`` reads the newest records of a window (at most
``MAX_RECORDS``) and summarizes: requests and errors, latency percentiles, the
distribution of predictions, and per input feature the same summary as the model's
training rows (recorded at training), side by side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pymongo.database import Database

from app.errors import NotFoundError
from app.ml.summaries import prediction_summary, summarize
from app.storage.models import ModelRepository
from app.storage.mongo import utcnow
from app.storage.predictions import PredictionRepository

MAX_RECORDS = 10_000  # newest records of the window that are summarized


def recent_predictions(
    db: Database, model: dict[str, Any], since: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """The newest prediction records of one model version."""
    return PredictionRepository(db).recent({"model_id": model["_id"]}, since, limit)


def monitoring(
    db: Database, name: str, window_seconds: float, version: int | None = None
) -> dict[str, Any]:
    """The monitoring summary of model ``name`` over the last ``window_seconds``."""
    models = ModelRepository(db)
    reference = models.find_version(name, version) if version else models.latest(name)
    if reference is None:
        target = f"{name}@v{version}" if version else name
        raise NotFoundError(f"Model '{target}' not found.", {"model": target})
    since = utcnow() - timedelta(seconds=window_seconds)
    query: dict[str, Any] = {"model_name": name}
    if version:
        query["model_version"] = version
    records = PredictionRepository(db).recent(query, since, MAX_RECORDS)
    ok = [r for r in records if r.get("status") == "ok"]
    inputs = pd.DataFrame([row for r in ok for row in r.get("inputs", [])])
    types = reference.get("feature_types") or {}
    served = summarize(inputs, types) if not inputs.empty else {}
    trained = reference.get("training_profile") or {}
    return {
        "model": {"name": name, "version": reference["version"], "id": reference["_id"]},
        "window": {"seconds": window_seconds, "since": since, "until": utcnow()},
        "requests": len(records),
        "errors": len(records) - len(ok),
        "truncated": len(records) == MAX_RECORDS,
        "rows": sum(int(r.get("rows", 0)) for r in ok),
        "by_version": _count(r["model_version"] for r in records),
        "by_engine": _count(r.get("engine", "") for r in ok),
        "latency_ms": _percentiles([r["latency_ms"] for r in records]),
        "predictions": prediction_summary(
            [p for r in ok for p in r.get("outputs", [])], reference["task"]
        ),
        "features": {
            feature: {"serving": served.get(feature), "training": trained.get(feature)}
            for feature in reference["features"]
        },
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3)}
