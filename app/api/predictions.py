"""Online predictions and their log.

``POST /api/v1/models/<ref>/predict`` (MLflow's scoring formats or CSV),
``GET /api/v1/models/<ref>/predictions`` (the log) and
``GET /api/v1/models/<name>/monitoring`` (traffic, latency and drift).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ErrorBody
from app.api.spec import scope, spec
from app.errors import UnsupportedMediaError
from app.services import registry
from app.services.monitoring import monitoring, recent_predictions
from app.services.predictions import predict
from app.serving.inputs import Table, frame_from_csv, frame_from_json

bp = Blueprint("predictions", __name__)


class PredictQuery(BaseModel):
    """``?proba=true`` adds class probabilities (classifiers); ``?engine=`` picks the runtime
    (default: ONNX where the model's ONNX copy passed parity, else scikit-learn)."""

    model_config = ConfigDict(extra="forbid")

    proba: bool = False
    engine: Literal["sklearn", "onnx"] | None = None


class PredictionLogQuery(BaseModel):
    """``?limit=`` newest records, ``?since=`` (ISO 8601) the oldest time."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=1000)
    since: datetime | None = None


class MonitoringQuery(BaseModel):
    """``?window=`` seconds back from now (default an hour, at most 30 days); ``?version=``
    one version only (default: all, compared with the newest version's training rows)."""

    model_config = ConfigDict(extra="forbid")

    window: float = Field(3600, gt=0, le=30 * 86400)
    version: int | None = Field(None, ge=1)


@bp.post("/<ref>/predict")
@spec.validate(
    query=PredictQuery,
    resp=Spec(
        HTTP_400=ErrorBody,
        HTTP_404=ErrorBody,
        HTTP_409=ErrorBody,
        HTTP_413=ErrorBody,
        HTTP_415=ErrorBody,
    ),
    tags=["predictions"],
    security=scope("predict"),
)
def predict_rows(ref: str) -> dict:
    """Predict: `POST /api/v1/models/churn@champion/predict` with one of `dataframe_split`
    (`{"columns": [...], "data": [[...]]}`), `dataframe_records` (`[{...}]`), `instances`,
    `inputs`, or a `text/csv` body → `{"predictions": [...], "model": {"id", "name",
    "version"}, "engine": "onnx"}`. Bad columns or types → 400 naming each column;
    `?engine=onnx` for a model without a passing ONNX copy → 409 with the reason."""
    serving, settings = context.serving(), context.settings()
    model = serving.resolve(ref)
    query = context.parsed().query

    def read_rows() -> Table:
        limit = settings.predict_max_rows
        if request.mimetype == "application/json":
            return frame_from_json(request.get_json(silent=True), list(model["features"]), limit)
        if request.mimetype == "text/csv":
            return frame_from_csv(request.get_data(), limit)
        raise UnsupportedMediaError(
            "Send application/json (MLflow's scoring formats) or text/csv.",
            {"expected": ["application/json", "text/csv"], "content_type": request.mimetype},
        )

    return predict(serving, model, read_rows, query.proba, query.engine, context.request_id())


@bp.get("/<ref>/predictions")
@spec.validate(
    query=PredictionLogQuery,
    resp=Spec(HTTP_404=ErrorBody),
    tags=["predictions"],
    security=scope("read"),
)
def list_predictions(ref: str) -> dict:
    """The prediction log of one model version, newest first: `{"items": [{"at",
    "latency_ms", "engine", "status", "rows", "inputs", "outputs", "request_id", …}]}`."""
    db, query = context.db(), context.parsed().query
    model = registry.resolve(db, ref)
    items = recent_predictions(db, model, query.since, query.limit)
    return {"items": items, "limit": query.limit, "model": {"id": model["_id"]}}


@bp.get("/<name>/monitoring")
@spec.validate(
    query=MonitoringQuery,
    resp=Spec(HTTP_404=ErrorBody),
    tags=["predictions"],
    security=scope("read"),
)
def model_monitoring(name: str) -> dict:
    """Requests, errors, latency p50/p95/p99, the distribution of predictions and, per
    input feature, the served rows' summary beside the training rows' (drift at a glance)."""
    query = context.parsed().query
    return monitoring(context.db(), name, query.window, query.version)
