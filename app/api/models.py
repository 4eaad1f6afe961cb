"""Models: the registry's metadata, file downloads and deletes."""

from __future__ import annotations

from flask import Blueprint, stream_with_context
from spectree import Response as Spec
from werkzeug.wrappers import Response

from app.api import context
from app.api.schemas import ErrorBody, ModelListQuery
from app.api.spec import scope, spec
from app.metrics import MODEL_DOWNLOADS, MODEL_LISTINGS
from app.services.models import open_download
from app.storage.models import ModelRepository, public_model

bp = Blueprint("models", __name__)


@bp.get("")
@spec.validate(query=ModelListQuery, tags=["models"], security=scope("read"))
def list_models() -> dict:
    """Models: `?name=&algorithm=&dataset=&page=&limit=&sort=` (default newest first)."""
    query = context.parsed().query
    filters = {"name": query.name, "algorithm": query.algorithm, "dataset_name": query.dataset}
    page = ModelRepository(context.db()).list(filters, query.sort, query.page, query.limit)
    MODEL_LISTINGS.inc()
    return page.as_json(public_model)


@bp.get("/<model_id>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["models"], security=scope("read"))
def get_model(model_id: str) -> dict:
    """One model's metadata: version, metrics, effective hyperparameters, lineage."""
    return public_model(ModelRepository(context.db()).get(model_id))


@bp.get("/<model_id>/download")
@spec.validate(
    resp=Spec(HTTP_404=ErrorBody, HTTP_409=ErrorBody), tags=["models"], security=scope("read")
)
def download_model(model_id: str) -> Response:
    """The model's joblib file, streamed from GridFS and verified against its signature.

    `curl -OJ .../api/v1/models/<id>/download` saves `<name>-v<version>.joblib`; its
    SHA-256 is in `Repr-Digest` and `X-Checksum-SHA256`. A file changed in storage is
    refused (409 `integrity_error`) and the model quarantined. Load joblib files only
    from a server you trust.
    """
    # A plain werkzeug Response, not a flask.Response: spectree calls get_data() on a
    # flask.Response, which would read the whole file into memory before sending it.
    download = open_download(context.db(), context.signer(), model_id, context.request_id())
    MODEL_DOWNLOADS.inc()
    return Response(
        stream_with_context(download.chunks),
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename={download.filename}",
            "Content-Length": str(download.length),
            "ETag": f'"{download.sha256}"',
            "Repr-Digest": download.digest_header,
            "X-Checksum-SHA256": download.sha256,
        },
    )


@bp.delete("/<model_id>")
@spec.validate(
    resp=Spec(HTTP_204=None, HTTP_404=ErrorBody), tags=["models"], security=scope("admin")
)
def delete_model(model_id: str) -> tuple[str, int]:
    """Delete a model: its document and its GridFS file. Its version number is not reused."""
    ModelRepository(context.db()).delete(model_id)
    return "", 204
