"""``/api/v1/models``: the model registry (metadata, download, delete) and statistics."""

from __future__ import annotations

from flask import Blueprint, request, stream_with_context
from spectree import Response as Spec
from werkzeug.wrappers import Response

from app.api import context, metrics
from app.api.documents import model_json, page_json
from app.api.schemas import ErrorBody, ModelListQuery
from app.api.spec import spec
from app.storage.jobs import JobRepository
from app.storage.models import ModelRepository

bp = Blueprint("models", __name__, url_prefix="/api/v1")


@bp.get("/models")
@spec.validate(query=ModelListQuery, tags=["models"])
def list_models() -> dict:
    """Models: `?name=&algorithm=&dataset=&page=&limit=&sort=` (default newest first)."""
    query = request.context.query
    filters = {"name": query.name, "algorithm": query.algorithm, "dataset_name": query.dataset}
    page = ModelRepository(context.db()).list(filters, query.sort, query.page, query.limit)
    metrics.MODEL_LISTINGS.inc()
    return page_json(page, model_json)


@bp.get("/models/<model_id>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["models"])
def get_model(model_id: str) -> dict:
    """One model's metadata: version, metrics, effective hyperparameters, lineage."""
    return model_json(ModelRepository(context.db()).get(model_id))


@bp.get("/models/<model_id>/download")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["models"])
def download_model(model_id: str) -> Response:
    """The model's joblib file, streamed from GridFS.

    `curl -OJ .../api/v1/models/<id>/download` saves `<name>-v<version>.joblib`; load it
    with `joblib.load` and call `predict` on a DataFrame of the dataset's feature columns.
    """
    # A plain werkzeug Response, not a flask.Response: spectree calls get_data() on a
    # flask.Response, which would read the whole file into memory before sending it.
    models = ModelRepository(context.db())
    model = models.get(model_id)
    length = models.artifacts.length(model["file_id"])
    chunks = stream_with_context(models.artifacts.iter_bytes(model["file_id"]))
    metrics.MODEL_DOWNLOADS.inc()
    filename = f"{model['name']}-v{model['version']}.joblib"
    return Response(
        chunks,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Content-Length": str(length),
            "ETag": f'"{model["sha256"]}"',
        },
    )


@bp.delete("/models/<model_id>")
@spec.validate(resp=Spec(HTTP_204=None, HTTP_404=ErrorBody), tags=["models"])
def delete_model(model_id: str) -> tuple[str, int]:
    """Delete a model: its document and its GridFS file. Its version number is not reused."""
    ModelRepository(context.db()).delete(model_id)
    return "", 204


@bp.get("/statistics")
@spec.validate(tags=["models"])
def get_statistics() -> dict:
    """Models by algorithm and dataset, jobs by status, best and mean score per algorithm."""
    db = context.db()
    return {
        "models": ModelRepository(db).statistics(),
        "jobs": {"by_status": JobRepository(db).count_by_status()},
    }
