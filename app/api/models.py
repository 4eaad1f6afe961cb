"""Models: the registry's metadata (by any reference), aliases, tags, downloads and deletes.

A ``<ref>`` is a model id, ``<name>@<alias>``, ``<name>@v<version>`` or ``<name>@latest``.
"""

from __future__ import annotations

from flask import Blueprint, request, stream_with_context
from spectree import Response as Spec
from werkzeug.wrappers import Response

from app.api import context
from app.api.schemas import (
    AliasListQuery,
    AliasMove,
    DownloadQuery,
    DriftQuery,
    ErrorBody,
    ModelListQuery,
    ModelPatch,
)
from app.api.spec import scope, spec
from app.metrics import MODEL_DOWNLOADS, MODEL_LISTINGS
from app.services import registry
from app.services.drift import drift_report
from app.services.models import open_download
from app.storage.aliases import AliasRepository, public_alias, public_alias_event
from app.storage.models import public_model

bp = Blueprint("models", __name__)


@bp.after_request
def _forget_resolved_references(response: Response) -> Response:
    """A registry change made here (alias move, delete, tags) is seen by this process's next
    prediction at once; other serving processes see it within a second."""
    if request.method in ("PUT", "PATCH", "DELETE") and response.status_code < 400:
        context.references().clear()
    return response


@bp.get("")
@spec.validate(query=ModelListQuery, tags=["models"], security=scope("read"))
def list_models() -> dict:
    """Models: `?name=&algorithm=&dataset=&alias=&tag.<key>=<value>&min_score=&created_after=
    &created_before=&page=&limit=&sort=` (default newest first); each with its aliases."""
    query = context.parsed().query
    page = registry.search(
        context.db(),
        filters={"name": query.name, "algorithm": query.algorithm, "dataset_name": query.dataset},
        alias=query.alias,
        tags=query.tags,
        min_score=query.min_score,
        created_after=query.created_after,
        created_before=query.created_before,
        sort=query.sort,
        page=query.page,
        limit=query.limit,
    )
    MODEL_LISTINGS.inc()
    return page.as_json(public_model)


@bp.get("/<ref>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["models"], security=scope("read"))
def get_model(ref: str) -> dict:
    """One model version: `GET /api/v1/models/churn@champion` (or an id, `churn@v3`,
    `churn@latest`): version, metrics, hyperparameters, lineage, aliases, tags."""
    db = context.db()
    return public_model(registry.describe(db, registry.resolve(db, ref)))


@bp.patch("/<ref>")
@spec.validate(
    json=ModelPatch,
    resp=Spec(HTTP_400=ErrorBody, HTTP_404=ErrorBody),
    tags=["models"],
    security=scope("train"),
)
def patch_model(ref: str) -> dict:
    """Set tags (`{"tags": {"team": "risk", "old": null}}`: null removes) or the description."""
    db = context.db()
    model = registry.patch_model(db, ref, context.parsed().json)
    return public_model(registry.describe(db, model))


@bp.get("/<ref>/download")
@spec.validate(
    query=DownloadQuery,
    resp=Spec(HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["models"],
    security=scope("read"),
)
def download_model(ref: str) -> Response:
    """The model's joblib (default) or ONNX file (`?format=onnx`), streamed from GridFS and
    verified against its signature.

    `curl -OJ .../api/v1/models/<ref>/download` saves `<name>-v<version>.joblib`; its
    SHA-256 is in `Repr-Digest` and `X-Checksum-SHA256`. A file changed in storage is
    refused (409 `integrity_error`) and the model quarantined; a model without an ONNX copy
    answers 409 with the conversion's reason. Load joblib files only from a server you
    trust; an ONNX file holds no code.
    """
    # A plain werkzeug Response, not a flask.Response: spectree calls get_data() on a
    # flask.Response, which would read the whole file into memory before sending it.
    return model_file_response(ref, context.parsed().query.format)


def model_file_response(ref: str, fmt: str) -> Response:
    """The verified ``fmt`` file of model ``ref`` as a streamed attachment (this route's and
    the web UI's download), its SHA-256 in ``ETag``, ``Repr-Digest`` and
    ``X-Checksum-SHA256``."""
    db = context.db()
    model = registry.resolve(db, ref)
    download = open_download(db, context.signer(), model["_id"], context.request_id(), fmt)
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


@bp.get("/<ref>/drift")
@spec.validate(
    query=DriftQuery,
    resp=Spec(HTTP_400=ErrorBody, HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["models"],
    security=scope("read"),
)
def model_drift(ref: str) -> dict:
    """Drift of a version's logged prediction inputs (`?since=&until=`, default the last 24
    h; the newest `DRIFT_MAX_ROWS` rows) from its training rows, per feature: `{"drift",
    "features": {<column>: {"test", "statistic", "p_value" | "distance", "threshold",
    "drift", "psi"}}, "window": {"since", "until", "rows"}, "reference": {"dataset",
    "version", "rows", "split"}}`. Statistical tests (KS, chi-squared, Z) on a training set
    of at most 1,000 rows, distances (Wasserstein, Jensen-Shannon; 0.1) on a larger one;
    the dataset drifts when at least half its features do. Fewer than 30 logged rows: 409
    `not_enough_data`."""
    query = context.parsed().query
    return drift_report(
        context.db(), context.signer(), context.settings(), ref, query.since, query.until
    )


@bp.delete("/<ref>")
@spec.validate(
    resp=Spec(HTTP_204=None, HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["models"],
    security=scope("admin"),
)
def delete_model(ref: str) -> tuple[str, int]:
    """Delete a version (document and file); 409 while an alias points at it. Its version
    number is not reused."""
    registry.delete_version(context.db(), ref)
    return "", 204


@bp.get("/<name>/aliases")
@spec.validate(query=AliasListQuery, tags=["models"], security=scope("read"))
def list_aliases(name: str) -> dict:
    """The current aliases of model `name`, or `?history=true` every move, newest first."""
    query, repo = context.parsed().query, AliasRepository(context.db())
    if query.history:
        return repo.history(name, query.page, query.limit).as_json(public_alias_event)
    items = [public_alias(doc) for doc in repo.of_model(name)]
    return {"items": items, "page": 1, "limit": len(items), "total": len(items)}


@bp.put("/<name>/aliases/<alias>")
@spec.validate(
    json=AliasMove,
    resp=Spec(HTTP_400=ErrorBody, HTTP_403=ErrorBody, HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["models"],
    security=scope("train"),
)
def put_alias(name: str, alias: str) -> dict:
    """Move (or create) an alias: `PUT .../models/churn/aliases/champion {"version": 4,
    "gate": {"metric": "f1_macro", "min_delta": 0.0}}`; the gate refuses (409, naming both
    scores) a version that scores worse than the one the alias holds. Protected aliases
    (`PROTECTED_ALIASES`) need the admin scope."""
    protected = context.settings().protected_alias_names
    moved = registry.move_alias(
        context.db(), name, alias, context.parsed().json, context.principal(), protected
    )
    return public_alias(moved)


@bp.delete("/<name>/aliases/<alias>")
@spec.validate(
    resp=Spec(HTTP_204=None, HTTP_403=ErrorBody, HTTP_404=ErrorBody),
    tags=["models"],
    security=scope("train"),
)
def delete_alias(name: str, alias: str) -> tuple[str, int]:
    """Remove an alias (protected ones need the admin scope)."""
    protected = context.settings().protected_alias_names
    registry.remove_alias(context.db(), name, alias, context.principal(), protected)
    return "", 204
