"""Datasets: upload versioned CSV datasets and read their metadata."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from spectree import Response as Spec

from app.api import context
from app.api.idempotency import idempotent
from app.api.schemas import DatasetForm, DatasetGetQuery, ErrorBody, PageQuery
from app.api.spec import scope, spec
from app.errors import UnsupportedMediaError, ValidationError
from app.services.datasets import delete_dataset, register_dataset
from app.storage.datasets import DatasetRepository, public_dataset

bp = Blueprint("datasets", __name__)


@bp.post("")
@idempotent
@spec.validate(
    form=DatasetForm,
    resp=Spec(HTTP_201=None, HTTP_400=ErrorBody, HTTP_413=ErrorBody, HTTP_415=ErrorBody),
    tags=["datasets"],
    security=scope("train"),
)
def create_dataset() -> tuple[dict, int, dict]:
    """Upload a CSV as a new dataset version (multipart: `file`, `name`, `target`, `description`).

    `curl -F file=@data.csv -F name=churn -F target=churned .../api/v1/datasets` → 201 with
    the version's metadata (task inferred from the target). The same name again makes
    version n+1. Empty, header-only, ragged, binary or one-class data → 4xx, nothing stored.
    """
    form: DatasetForm = context.parsed().form
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("The multipart part 'file' (a CSV) is required.", {"field": "file"})
    if upload.mimetype and not _looks_textual(upload.mimetype):
        raise UnsupportedMediaError(
            f"Expected a CSV file, got {upload.mimetype}.",
            {"field": "file", "content_type": upload.mimetype},
        )
    raw = upload.read()
    doc = register_dataset(
        context.db(), context.signer(), form.name, raw, form.target, form.description
    )
    location = url_for("datasets.get_dataset", name=doc["name"], version=doc["version"])
    return public_dataset(doc), 201, {"Location": location}


@bp.get("")
@spec.validate(query=PageQuery, tags=["datasets"], security=scope("read"))
def list_datasets() -> dict:
    """The latest version of every dataset, by name (`versions` counts them)."""
    query = context.parsed().query
    page = DatasetRepository(context.db()).list_latest(query.page, query.limit)
    return page.as_json(public_dataset)


@bp.get("/<name>")
@spec.validate(
    query=DatasetGetQuery, resp=Spec(HTTP_404=ErrorBody), tags=["datasets"], security=scope("read")
)
def get_dataset(name: str) -> dict:
    """One dataset version: the latest, or `?version=N`."""
    return public_dataset(DatasetRepository(context.db()).get(name, context.parsed().query.version))


@bp.get("/<name>/versions")
@spec.validate(query=PageQuery, tags=["datasets"], security=scope("read"))
def list_dataset_versions(name: str) -> dict:
    """Every version of one dataset, newest first."""
    query = context.parsed().query
    repo = DatasetRepository(context.db())
    repo.get(name)  # 404 for an unknown name rather than an empty page
    return repo.list_versions(name, query.page, query.limit).as_json(public_dataset)


@bp.delete("/<name>")
@spec.validate(
    query=DatasetGetQuery,
    resp=Spec(HTTP_204=None, HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["datasets"],
    security=scope("admin"),
)
def delete_dataset_view(name: str) -> tuple[str, int]:
    """Delete a dataset (every version, or `?version=N`); models keep its name and version.

    409 for a built-in dataset, or while a job that has not finished uses it.
    """
    delete_dataset(context.db(), name, context.parsed().query.version)
    return "", 204


def _looks_textual(mimetype: str) -> bool:
    """CSV arrives as text/*, the CSV types browsers use, or untyped octets (curl's default)."""
    return mimetype.startswith("text/") or mimetype in {
        "application/csv",
        "application/vnd.ms-excel",
        "application/octet-stream",
    }
