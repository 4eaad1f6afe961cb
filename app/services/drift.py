"""Drift checks: a model version's logged prediction inputs against its training rows.

``drift_report`` (``GET /api/v1/models/<ref>/drift?since=&until=``, and schedules that
retrain on drift) reads the newest ``DRIFT_MAX_ROWS`` input rows logged for the model
version between ``since`` and ``until`` (default: the last 24 hours) from the prediction
log's input blocks (``app.storage.predictions``: the first 100 rows of each sampled
request), and compares each feature with the same column of the model's training rows
(``app.ml.drift``: Evidently's default tests and distances). The reference is the
training split of the dataset version the model was trained on, split again as its job
split it (``test_size``, ``random_state``), or the whole version when that cannot be
reproduced; it is read verified and kept for the next checks of the same model (a few
per process). Fewer than ``MIN_WINDOW_ROWS`` logged rows is a 409 ``not_enough_data``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pymongo.database import Database

from app.config import Settings
from app.errors import ConflictError, DataError, NotFoundError, ValidationError
from app.ml.drift import SMALL_REFERENCE_ROWS, categorical_drift, dataset_drift, numeric_drift
from app.ml.preprocessing import NUMERIC
from app.ml.tabular import read_csv
from app.ml.training import prepare_and_split
from app.services import registry
from app.services.datasets import read_dataset
from app.services.predictions import feature_types
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository
from app.storage.mongo import utcnow
from app.storage.predictions import InputBlocks
from app.storage.signing import Signer

MIN_WINDOW_ROWS = 30  # fewer logged rows than this in the window: 409 not_enough_data
DEFAULT_WINDOW = timedelta(hours=24)
REFERENCES_KEPT = 4  # models whose training rows a process keeps for the next check
_references: OrderedDict[str, Reference] = OrderedDict()
_lock = threading.Lock()


class NotEnoughDataError(ConflictError):
    """Too few logged prediction inputs in the window to check drift."""

    code = "not_enough_data"


class ReferenceUnavailableError(ConflictError):
    """The model's training data is gone (its dataset version was deleted)."""

    code = "reference_unavailable"


@dataclass(frozen=True)
class Reference:
    """A model's training rows, per feature: numbers (float64, NaN missing) or counts."""

    about: dict[str, Any]  # {"dataset", "version", "rows", "split"}
    rows: int
    numeric: dict[str, np.ndarray]
    categorical: dict[str, dict[str, int]]


def drift_report(
    db: Database,
    signer: Signer,
    settings: Settings | None,
    model: dict[str, Any] | str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The drift of ``model`` (a model document, or any reference such as
    ``churn@champion``) over ``[since, until]``: ``{"drift", "drifted_features",
    "checked_features", "share", "drift_share", "method", "model", "features",
    "window", "reference"}``. NotFoundError for an unknown model, ValidationError for a
    bad window, NotEnoughDataError below ``MIN_WINDOW_ROWS`` logged rows,
    ReferenceUnavailableError when the training data is gone."""
    doc = registry.resolve(db, model) if isinstance(model, str) else model
    since, until = window_bounds(since, until)
    max_rows = settings.drift_max_rows if settings else _default("drift_max_rows")
    window = InputBlocks(db).window(doc["_id"], since, until, max_rows)
    span = {"since": since, "until": until, "rows": window.rows}
    if window.rows < MIN_WINDOW_ROWS:
        raise NotEnoughDataError(
            f"{window.rows} logged input rows of {_name(doc)} between {since.isoformat()} and"
            f" {until.isoformat()}; a drift check needs at least {MIN_WINDOW_ROWS}.",
            {**_iso(span), "min_rows": MIN_WINDOW_ROWS},
        )
    reference = training_reference(db, signer, doc)
    small = reference.rows <= SMALL_REFERENCE_ROWS
    types = feature_types(db, doc)
    features: dict[str, dict[str, Any]] = {}
    for feature in doc["features"]:
        if types.get(feature) == NUMERIC:
            served = window.numeric.get(feature, np.empty(0))
            features[feature] = numeric_drift(reference.numeric[feature], served, small)
        else:
            counts = window.categorical.get(feature, {})
            features[feature] = categorical_drift(reference.categorical[feature], counts, small)
    verdict = dataset_drift(features)
    if verdict["drift"] is None:
        raise NotEnoughDataError(
            f"No feature of {_name(doc)} has values in both the window and the training rows.",
            {**_iso(span), "min_rows": MIN_WINDOW_ROWS},
        )
    return {
        **verdict,
        "method": "tests" if small else "distances",
        "model": {"id": doc["_id"], "name": doc["name"], "version": doc["version"]},
        "features": features,
        "window": {**span, "truncated": window.truncated, "max_rows": max_rows},
        "reference": reference.about,
    }


def window_bounds(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """``[since, until]`` in UTC (naive times are UTC; default: the 24 hours to now);
    ValidationError unless ``since`` is before ``until``."""
    try:
        end = _utc(until) if until is not None else utcnow()
        start = _utc(since) if since is not None else end - DEFAULT_WINDOW
    except (OverflowError, ValueError):
        raise ValidationError(
            "since/until: out of range.", {"field": "since" if since else "until"}
        ) from None
    if start >= end:
        raise ValidationError(
            "since must be before until.",
            {"field": "since", "since": start.isoformat(), "until": end.isoformat()},
        )
    return start, end


def training_reference(db: Database, signer: Signer, model: dict[str, Any]) -> Reference:
    """The training rows of ``model`` (kept for the next call on the same model)."""
    with _lock:
        if (kept := _references.get(model["_id"])) is not None:
            _references.move_to_end(model["_id"])
            return kept
    reference = _load_reference(db, signer, model)
    with _lock:
        _references[model["_id"]] = reference
        while len(_references) > REFERENCES_KEPT:
            _references.popitem(last=False)
    return reference


def _load_reference(db: Database, signer: Signer, model: dict[str, Any]) -> Reference:
    name, version = model["dataset_name"], model["dataset_version"]
    try:
        dataset = DatasetRepository(db).get(name, version)
    except NotFoundError:
        raise ReferenceUnavailableError(
            f"The training data of {_name(model)} (dataset {name} v{version}) was deleted;"
            " its drift cannot be checked.",
            {"dataset": name, "version": version},
        ) from None
    frame = read_csv(read_dataset(db, signer, dataset))
    features = list(model["features"])
    rows, split = frame, "all"
    job = JobRepository(db).find(model["job_id"]) or {}
    if job.get("test_size") is not None and job.get("random_state") is not None:
        try:
            rows = prepare_and_split(
                frame, model["target"], model["task"], job["test_size"], job["random_state"]
            )[0]
            split = "train"
        except DataError:
            rows = frame
    missing = [f for f in features if f not in rows.columns]
    if missing:
        raise ReferenceUnavailableError(
            f"Dataset {name} v{version} lacks features of {_name(model)}: {', '.join(missing)}.",
            {"dataset": name, "version": version, "missing": missing},
        )
    types = feature_types(db, model)
    numeric = {
        f: pd.to_numeric(rows[f], errors="coerce").to_numpy(dtype=float)
        for f in features
        if types.get(f) == NUMERIC
    }
    categorical = {
        f: {str(k): int(v) for k, v in rows[f].dropna().astype(str).value_counts().items()}
        for f in features
        if types.get(f) != NUMERIC
    }
    about = {"dataset": name, "version": version, "rows": len(rows), "split": split}
    return Reference(about, len(rows), numeric, categorical)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(span: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in span.items()}


def _name(model: dict[str, Any]) -> str:
    return f"{model['name']}@v{model['version']}"


def _default(field: str) -> Any:
    return Settings.model_fields[field].default
