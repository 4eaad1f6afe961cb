"""Online predictions: resolve the model, check the rows, load it once, predict.

The answer is ``{"predictions", "model": {"id", "name", "version"}, "engine"}``, plus
``classes`` and ``probabilities`` when asked for a classifier's probabilities.
Nothing the caller sent is echoed back in an error.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
from pymongo.database import Database

from app.errors import ValidationError
from app.metrics import PREDICT_DURATION, PREDICTIONS
from app.ml.metrics import to_jsonable
from app.ml.preprocessing import CATEGORICAL, NUMERIC
from app.services.integrity import refuse_if_quarantined
from app.serving.cache import ModelCache
from app.serving.inputs import check_columns
from app.serving.loader import load_verified_model
from app.storage.datasets import DatasetRepository
from app.storage.signing import Signer

log = logging.getLogger(__name__)
ENGINE = "sklearn"


def feature_types(db: Database, model: dict[str, Any]) -> dict[str, str]:
    """Numeric or categorical, per feature (older models: from their dataset's profile)."""
    if model.get("feature_types"):
        return dict(model["feature_types"])
    dataset = DatasetRepository(db).find(model["dataset_name"], model["dataset_version"])
    known = (dataset or {}).get("column_types", {})
    return {f: NUMERIC if known.get(f) == NUMERIC else CATEGORICAL for f in model["features"]}


def predict(
    db: Database,
    signer: Signer,
    cache: ModelCache,
    model: dict[str, Any],
    frame: pd.DataFrame,
    proba: bool = False,
) -> dict[str, Any]:
    """Predict the rows of ``frame`` with ``model`` (a resolved model document)."""
    started = time.perf_counter()
    name = model["name"]
    try:
        refuse_if_quarantined("model", model)
        rows = check_columns(frame, list(model["features"]), feature_types(db, model))
        pipeline = cache.get(model, lambda: load_verified_model(db, signer, model))
        answer = _predict(pipeline, rows, proba and model["task"] == "classification")
    except Exception:
        PREDICTIONS.labels(name, "failed").inc()
        raise
    PREDICTIONS.labels(name, "served").inc()
    PREDICT_DURATION.labels(ENGINE).observe(time.perf_counter() - started)
    reference = {"id": model["_id"], "name": name, "version": model["version"]}
    return {**answer, "model": reference, "engine": ENGINE}


def _predict(pipeline: Any, rows: pd.DataFrame, proba: bool) -> dict[str, Any]:
    try:
        predictions = [to_jsonable(p) for p in pipeline.predict(rows)]
        answer: dict[str, Any] = {"predictions": predictions}
        if proba and hasattr(pipeline, "predict_proba"):
            answer["classes"] = [to_jsonable(c) for c in pipeline.classes_]
            answer["probabilities"] = [
                [round(float(p), 6) for p in row] for row in pipeline.predict_proba(rows)
            ]
    except (ValueError, TypeError) as exc:  # the rows' values, not our code
        log.info("prediction refused: %s", exc)
        raise ValidationError(
            "The model cannot predict these rows (check the values' types and ranges).",
            {"field": "body"},
        ) from None
    return answer
