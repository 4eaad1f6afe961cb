"""Online predictions in MLflow's scoring formats: ``POST /api/v1/models/<ref>/predict``."""

from __future__ import annotations

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ErrorBody
from app.api.spec import scope, spec
from app.errors import UnsupportedMediaError
from app.services import registry
from app.services.predictions import predict
from app.serving.inputs import frame_from_csv, frame_from_json

bp = Blueprint("predictions", __name__)


class PredictQuery(BaseModel):
    """``?proba=true`` adds class probabilities (classifiers)."""

    model_config = ConfigDict(extra="forbid")

    proba: bool = False


@bp.post("/<ref>/predict")
@spec.validate(
    query=PredictQuery,
    resp=Spec(HTTP_400=ErrorBody, HTTP_404=ErrorBody, HTTP_413=ErrorBody, HTTP_415=ErrorBody),
    tags=["predictions"],
    security=scope("predict"),
)
def predict_rows(ref: str) -> dict:
    """Predict: `POST /api/v1/models/churn@champion/predict` with one of `dataframe_split`
    (`{"columns": [...], "data": [[...]]}`), `dataframe_records` (`[{...}]`), `instances`,
    `inputs`, or a `text/csv` body → `{"predictions": [...], "model": {"id", "name",
    "version"}, "engine": "sklearn"}`. Bad columns or types → 400 naming each column."""
    db, settings = context.db(), context.settings()
    model = registry.resolve(db, ref)
    limit = settings.predict_max_rows
    if request.mimetype == "application/json":
        frame = frame_from_json(request.get_json(silent=True), list(model["features"]), limit)
    elif request.mimetype == "text/csv":
        frame = frame_from_csv(request.get_data(), limit)
    else:
        raise UnsupportedMediaError(
            "Send application/json (MLflow's scoring formats) or text/csv.",
            {"expected": ["application/json", "text/csv"], "content_type": request.mimetype},
        )
    proba = context.parsed().query.proba
    return predict(db, context.signer(), context.model_cache(), model, frame, proba)
