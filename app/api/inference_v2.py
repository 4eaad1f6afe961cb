"""The Open Inference Protocol v2 under ``/v2`` (what KServe, Triton and MLServer clients speak).

``<name>`` is a model name (its latest version) or any model reference
(``churn@champion``); ``/versions/<v>`` picks a version.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ErrorBody
from app.api.spec import scope, spec
from app.services.predictions import ENGINES, feature_types, predict
from app.serving.v2 import frame_from_v2, metadata, output_tensor
from app.storage.models import ModelRepository

bp = Blueprint("inference_v2", __name__)
PREDICT = scope("predict")


def _model(name: str, version: str | None = None) -> dict[str, Any]:
    ref = f"{name}@v{version}" if version else (name if "@" in name else f"{name}@latest")
    return context.serving().resolve(ref)


@bp.get("/health/ready")
@spec.validate(tags=["inference v2"], security=PREDICT)
def server_ready() -> dict:
    """`{"ready": true}` while the server can serve (MongoDB answers)."""
    context.db().command("ping")
    return {"ready": True}


@bp.get("/models/<name>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["inference v2"], security=PREDICT)
def model_metadata(name: str) -> dict:
    """The model's inputs (one per feature column, with datatypes) and outputs."""
    model = _model(name)
    versions = ModelRepository(context.db()).versions(model["name"])
    return metadata(model, feature_types(context.db(), model), versions)


@bp.get("/models/<name>/ready")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["inference v2"], security=PREDICT)
def model_ready(name: str) -> dict:
    """`{"name", "ready"}`: the model exists and its file is not quarantined."""
    model = _model(name)
    return {"name": model["name"], "ready": not model.get("quarantined")}


def _infer(name: str, version: str | None) -> dict:
    model = _model(name, version)
    body = request.get_json(silent=True)
    parameters = (body or {}).get("parameters") or {}
    proba = bool(parameters.get("proba"))
    engine = parameters.get("engine") if parameters.get("engine") in ENGINES else None
    features = list(model["features"])
    answer = predict(
        context.serving(),
        model,
        lambda: frame_from_v2(body, features),
        proba,
        engine,
        context.request_id(),
    )
    outputs = [output_tensor("predict", answer["predictions"])]
    if "probabilities" in answer:
        outputs.append(output_tensor("predict_proba", answer["probabilities"]))
    return {
        "model_name": model["name"],
        "model_version": str(model["version"]),
        "id": str((body or {}).get("id") or context.request_id()),
        "parameters": {"engine": answer["engine"], "model_id": model["_id"]},
        "outputs": outputs,
    }


@bp.post("/models/<name>/infer")
@spec.validate(
    resp=Spec(HTTP_400=ErrorBody, HTTP_404=ErrorBody), tags=["inference v2"], security=PREDICT
)
def infer(name: str) -> dict:
    """`{"inputs": [{"name": "<column>", "shape": [n], "datatype": "FP64", "data": [...]},
    ...]}` → `{"model_name", "model_version", "outputs": [{"name": "predict", ...}]}`."""
    return _infer(name, None)


@bp.post("/models/<name>/versions/<version>/infer")
@spec.validate(
    resp=Spec(HTTP_400=ErrorBody, HTTP_404=ErrorBody), tags=["inference v2"], security=PREDICT
)
def infer_version(name: str, version: str) -> dict:
    """The same, for one version of the model."""
    return _infer(name, version)
