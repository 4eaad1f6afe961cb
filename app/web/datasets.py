"""Datasets pages: the list with an upload form, and a version's profile and first rows."""

from __future__ import annotations

from typing import Any

import pydantic
from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.api import context
from app.api.schemas import DatasetForm
from app.errors import TensorFleetError, UnsupportedMediaError, ValidationError
from app.services.datasets import preview_dataset, register_dataset
from app.storage.datasets import DatasetRepository
from app.web.blueprint import bp
from app.web.charts import hbar_chart
from app.web.params import page_and_limit
from app.web.session import require

LIST_FIELDS = dict.fromkeys(
    [
        "name",
        "version",
        "task",
        "target",
        "n_samples",
        "n_features",
        "description",
        "source",
        "size_bytes",
        "created_at",
        "quarantined",
    ],
    1,
)
VERSION_FIELDS = dict.fromkeys(("version", "created_at", "n_samples", "sha256", "size_bytes"), 1)
PREVIEW_ROWS = 20
CSV_TYPES = ("application/csv", "application/vnd.ms-excel", "application/octet-stream")


@bp.get("/datasets")
def datasets() -> str:
    """The latest version of every dataset, by name."""
    page, limit = page_and_limit()
    found = DatasetRepository(context.db()).latest_page(page, limit, LIST_FIELDS)
    return render_template("datasets/list.html", page=found, form={}, error=None)


@bp.get("/datasets/<name>")
def dataset(name: str) -> str:
    """One version (``?version=``, default the latest): profile, class balance, rows."""
    raw_version = request.args.get("version", "").strip()
    if raw_version and not raw_version.isdigit():
        raise ValidationError("'version' must be a whole number.", {"field": "version"})
    repo = DatasetRepository(context.db())
    doc = repo.get(name, int(raw_version) if raw_version else None)
    preview, preview_error = None, None
    try:
        preview = preview_dataset(context.db(), context.signer(), doc, PREVIEW_ROWS)
    except TensorFleetError as error:  # a tampered file: quarantined, its rows not shown
        preview_error = error.message
    return render_template(
        "datasets/detail.html",
        dataset=doc,
        versions=repo.version_list(name, VERSION_FIELDS),
        columns=_columns(doc, preview),
        preview=preview,
        preview_error=preview_error,
        balance=_balance(doc),
    )


def _columns(doc: dict[str, Any], preview: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per column: its type, missing values and the task it implies as a target."""
    types, targets = doc.get("column_types", {}), doc.get("targets", {})
    names = preview["columns"] if preview else [*doc.get("features", []), doc["target"]]
    missing = preview["missing"] if preview else {}
    return [
        {
            "name": column,
            "type": types.get(column, "target" if column == doc["target"] else "—"),
            "missing": missing.get(column),
            "as_target": (targets.get(column) or {}).get("task")
            or (targets.get(column) or {}).get("error"),
            "is_target": column == doc["target"],
        }
        for column in names
    ]


def _balance(doc: dict[str, Any]) -> Any:
    """A bar per class of the target with its row count (classification only)."""
    profile = doc.get("targets", {}).get(doc["target"]) or {}
    classes, counts = profile.get("classes"), profile.get("class_counts")
    if not classes or not counts:
        return None
    return hbar_chart([str(c) for c in classes], counts, title="Class balance")


@bp.post("/datasets")
@require("train")
def upload_dataset() -> Response | tuple[str, int]:
    """Upload a CSV as a new version, through the service behind ``POST /api/v1/datasets``."""
    values = request.form.to_dict()
    try:
        doc = _register(values)
    except TensorFleetError as error:
        page = DatasetRepository(context.db()).latest_page(1, 50, LIST_FIELDS)
        page_html = render_template(
            "datasets/list.html", page=page, form=values, error=error.message
        )
        return page_html, error.http_status
    flash(f"Dataset {doc['name']} v{doc['version']} stored ({doc['n_samples']} rows).", "ok")
    return redirect(url_for("web.dataset", name=doc["name"], version=doc["version"]), 303)


def _register(values: dict[str, str]) -> dict[str, Any]:
    try:
        form = DatasetForm.model_validate(
            {key: values.get(key, "").strip() for key in ("name", "target", "description")}
        )
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        raise ValidationError(f"Check the form: {problems}.", {"field": "form"}) from None
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("Choose a CSV file to upload.", {"field": "file"})
    mimetype = upload.mimetype or ""
    if mimetype and not (mimetype.startswith("text/") or mimetype in CSV_TYPES):
        raise UnsupportedMediaError(f"Expected a CSV file, got {mimetype}.", {"field": "file"})
    return register_dataset(
        context.db(), context.signer(), form.name, upload.read(), form.target, form.description
    )
