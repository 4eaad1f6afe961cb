"""Online predictions: resolve the model, check the rows, load it once, predict, log.

The answer is ``{"predictions", "model": {"id", "name", "version"}, "engine"}``, plus
``classes`` and ``probabilities`` when asked for a classifier's probabilities. The
engine is ONNX Runtime where the model's ONNX copy passed parity at training, else
scikit-learn; ``engine=`` overrides. Nothing the caller sent is echoed back in an error.
Each answered request is recorded in the prediction log (sampled, written off-thread), its
first rows' inputs also as columns for drift checks (``app.storage.predictions``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from app.errors import ConflictError, TensorFleetError, ValidationError
from app.metrics import PREDICT_DURATION, PREDICTIONS
from app.ml.metrics import to_jsonable
from app.ml.onnx_format import OnnxPipeline
from app.ml.preprocessing import CATEGORICAL, NUMERIC
from app.services import registry
from app.services.integrity import refuse_if_quarantined
from app.serving.cache import ModelCache, ReferenceCache
from app.serving.inputs import Checked, Table, check_columns
from app.serving.loader import load_verified_model, load_verified_onnx
from app.serving.prediction_log import ROWS_PER_RECORD, PredictionLog
from app.storage.datasets import DatasetRepository
from app.storage.predictions import INPUT_COLUMNS
from app.storage.signing import Signer

log = logging.getLogger(__name__)
ENGINES = ("sklearn", "onnx")


@dataclass
class Serving:
    """What a serving process predicts with: the store, the signing key, its model cache,
    its cache of resolved references and its prediction log."""

    db: Database
    signer: Signer
    cache: ModelCache
    log: PredictionLog
    refs: ReferenceCache

    def resolve(self, ref: str) -> dict[str, Any]:
        """The model ``ref`` names (resolved again after at most a second)."""
        return self.refs.get(ref, lambda: registry.resolve(self.db, ref))


def feature_types(db: Database, model: dict[str, Any]) -> dict[str, str]:
    """Numeric or categorical, per feature (older models: from their dataset's profile)."""
    if model.get("feature_types"):
        return dict(model["feature_types"])
    dataset = DatasetRepository(db).find(model["dataset_name"], model["dataset_version"])
    known = (dataset or {}).get("column_types", {})
    return {f: NUMERIC if known.get(f) == NUMERIC else CATEGORICAL for f in model["features"]}


def choose_engine(model: dict[str, Any], requested: str | None) -> str:
    """``requested``, or ONNX when the model's ONNX copy passed parity, else sklearn."""
    onnx = (model.get("formats") or {}).get("onnx") or {}
    if requested is None:
        return "onnx" if onnx.get("status") == "ok" else "sklearn"
    if requested == "onnx" and onnx.get("status") != "ok":
        reason = onnx.get("reason") or "it was trained before ONNX export or with it off"
        raise ConflictError(
            f"Model {model['name']}@v{model['version']} cannot be served with ONNX: {reason}",
            {"engine": "onnx", "allowed": ["sklearn"]},
        )
    return requested


def predict(
    serving: Serving,
    model: dict[str, Any],
    read_rows: Callable[[], Table],
    proba: bool = False,
    engine: str | None = None,
    request_id: str = "",
) -> dict[str, Any]:
    """Predict the rows ``read_rows()`` parses from the request with ``model`` (a resolved
    model document); a request refused while parsing is logged as an error too."""
    started = time.perf_counter()
    name, chosen = model["name"], engine or "sklearn"
    try:
        refuse_if_quarantined("model", model)
        chosen = choose_engine(model, engine)
        types = feature_types(serving.db, model)
        rows = check_columns(read_rows(), list(model["features"]), types)
        wants_proba = proba and model["task"] == "classification"
        answer = _predict(_loaded(serving, model, chosen, types), rows, wants_proba)
        if "probabilities" in answer:
            answer["classes"] = model["classes"]
    except TensorFleetError as error:
        PREDICTIONS.labels(name, "failed").inc()
        _log(serving, model, chosen, started, request_id, error=error.code)
        raise
    except Exception:
        PREDICTIONS.labels(name, "failed").inc()
        raise
    PREDICTIONS.labels(name, "served").inc()
    PREDICT_DURATION.labels(chosen).observe(time.perf_counter() - started)
    _log(serving, model, chosen, started, request_id, rows=rows, answer=answer)
    reference = {"id": model["_id"], "name": name, "version": model["version"]}
    return {**answer, "model": reference, "engine": chosen}


def _loaded(serving: Serving, model: dict[str, Any], engine: str, types: dict[str, str]) -> Any:
    if engine == "onnx":
        with_types = {**model, "feature_types": types}
        return serving.cache.get(
            model, lambda: load_verified_onnx(serving.db, serving.signer, with_types), "onnx"
        )
    return serving.cache.get(model, lambda: load_verified_model(serving.db, serving.signer, model))


def _predict(runner: Any, rows: Checked, proba: bool) -> dict[str, Any]:
    """Labels (and, with ``proba``, class probabilities) of ``rows``; ``runner`` is a
    Pipeline or an OnnxPipeline."""
    try:
        if isinstance(runner, OnnxPipeline):  # labels and probabilities in one run
            labels, probabilities = runner.predict_with_proba(rows)
        else:
            frame = rows.frame()
            labels = runner.predict(frame)
            has_proba = proba and hasattr(runner, "predict_proba")
            probabilities = runner.predict_proba(frame) if has_proba else None
    except (ValueError, TypeError) as exc:  # the rows' values, not our code
        log.info("prediction refused: %s", exc)
        raise ValidationError(
            "The model cannot predict these rows (check the values' types and ranges).",
            {"field": "body"},
        ) from None
    answer: dict[str, Any] = {"predictions": [to_jsonable(p) for p in labels]}
    if proba and probabilities is not None:
        answer["probabilities"] = [[round(float(p), 6) for p in row] for row in probabilities]
    return answer


def _log(
    serving: Serving,
    model: dict[str, Any],
    engine: str,
    started: float,
    request_id: str,
    rows: Checked | None = None,
    answer: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Queue the request's record in the prediction log (if sampled); never raises."""
    try:
        if not serving.log.sampled():
            return
        entry: dict[str, Any] = {
            "model_id": model["_id"],
            "model_name": model["name"],
            "model_version": model["version"],
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "engine": engine,
            "request_id": request_id,
            "status": "error" if error else "ok",
        }
        if error:
            entry["error"] = error
        if rows is not None and answer is not None:
            entry["rows"] = rows.count
            entry["inputs"] = rows.records(ROWS_PER_RECORD)
            entry["outputs"] = answer["predictions"][:ROWS_PER_RECORD]
            # the same rows as columns, for drift checks (stored in input blocks, not here)
            entry[INPUT_COLUMNS] = {
                f: values[:ROWS_PER_RECORD].copy() for f, values in rows.arrays.items()
            }
        serving.log.record(entry)
    except Exception:  # the log must never fail a prediction
        log.exception("prediction log: could not queue a record")
