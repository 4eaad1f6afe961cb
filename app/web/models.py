"""Models pages: the registry (grouped by name, filtered, sorted by any metric) and one
version's detail: metrics and charts, aliases (move one here), a "try it" form, downloads."""

from __future__ import annotations

import re
from typing import Any

import pydantic
from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.api import context
from app.api.models import model_file_response
from app.errors import TensorFleetError, ValidationError
from app.services import registry
from app.services.predictions import feature_types, predict
from app.services.registry import TAG_KEY, AliasMove
from app.storage.aliases import AliasRepository
from app.storage.models import ModelRepository
from app.storage.mongo import SORTABLE_METRICS
from app.web.blueprint import bp
from app.web.charts import hbar_chart, heatmap, line_chart
from app.web.params import form_number, page_and_limit, text
from app.web.session import current_principal, require

SORT_FIELDS = {
    "created_at": "created_at",
    "name": "name",
    "score": "score",
    **{metric: f"metrics.{metric}" for metric in SORTABLE_METRICS},
}
LIST_FIELDS = dict.fromkeys(
    [
        "name",
        "version",
        "algorithm",
        "dataset_name",
        "dataset_version",
        "task",
        "score",
        "metrics",
        "tags",
        "created_at",
        "job_id",
    ],
    1,
)
NOT_METRICS = ("confusion_matrix", "labels")
TOP_FEATURES = 20


def _sort() -> tuple[str, list[tuple[str, int]]]:
    """``?sort=`` as given (``-f1_macro``: highest first) and its MongoDB sort."""
    raw = request.args.get("sort", "").strip() or "-created_at"
    key, descending = raw.lstrip("-"), raw.startswith("-")
    if key not in SORT_FIELDS:
        allowed = ", ".join(f"{key}, -{key}" for key in SORT_FIELDS)
        raise ValidationError(f"'sort' must be one of: {allowed}.", {"field": "sort"})
    if key == "name":
        return raw, [("name", -1 if descending else 1), ("version", -1)]
    direction = -1 if descending else 1
    return raw, [(SORT_FIELDS[key], direction), ("created_at", -1), ("_id", -1)]


def _tags() -> dict[str, str]:
    """``?tag=key=value`` filters (repeatable)."""
    tags = {}
    for raw in request.args.getlist("tag"):
        key, sep, value = raw.partition("=")
        if not raw.strip():
            continue
        if not sep or not re.match(TAG_KEY, key.strip()):
            raise ValidationError("'tag' must look like key=value.", {"field": "tag"})
        tags[key.strip()] = value.strip()
    return tags


@bp.get("/models")
def models() -> str:
    """A page of model versions grouped by name, with their aliases and tags."""
    filters = {
        "name": text("name"),
        "algorithm": text("algorithm"),
        "dataset_name": text("dataset"),
    }
    alias, tags = text("alias"), _tags()
    sort, order = _sort()
    db = context.db()
    query = registry.model_query(db, filters=filters, alias=alias, tags=tags)
    ranked_by = sort.lstrip("-") if sort.lstrip("-") not in ("created_at", "name") else None
    if ranked_by:
        query[order[0][0]] = {"$ne": None}  # models without that metric are not ranked
    page, limit = page_and_limit()
    found = registry.with_aliases(
        db, ModelRepository(db).find_window(query, order, page, limit, LIST_FIELDS)
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for model in found.items:
        groups.setdefault(model["name"], []).append(model)
    metric = sort.lstrip("-") if sort.lstrip("-") in SORTABLE_METRICS else None
    return render_template(
        "models/list.html",
        page=found,
        groups=groups,
        filters={**filters, "alias": alias, "tag": request.args.getlist("tag")},
        sort=sort,
        sort_keys=list(SORT_FIELDS),
        metric=metric,
        ranked_by=ranked_by,
    )


def scalar_metrics(model: dict[str, Any]) -> dict[str, Any]:
    """A model's metrics that fit in a table cell (not the confusion matrix or labels)."""
    metrics = model.get("metrics") or {}
    return {k: v for k, v in metrics.items() if k not in NOT_METRICS and not isinstance(v, list)}


def model_charts(model: dict[str, Any]) -> dict[str, Any]:
    """The model's charts that its document has data for (older models have fewer)."""
    shown: dict[str, Any] = {}
    metrics = model.get("metrics") or {}
    if metrics.get("confusion_matrix") and metrics.get("labels"):
        labels = [str(label) for label in metrics["labels"]]
        shown["confusion"] = heatmap(metrics["confusion_matrix"], labels)
    curves = model.get("curves") or {}
    if roc := curves.get("roc"):
        name = f"AUC {roc['auc']:.3f}" if isinstance(roc.get("auc"), float) else "ROC"
        shown["roc"] = line_chart(
            {name: (roc["fpr"], roc["tpr"])},
            title="ROC curve",
            x_label="false positive rate",
            y_label="true positive rate",
            diagonal=True,
        )
    if pr := curves.get("pr"):
        ap = pr.get("average_precision")
        name = f"AP {ap:.3f}" if isinstance(ap, float) else "precision-recall"
        shown["pr"] = line_chart(
            {name: (pr["recall"], pr["precision"])},
            title="Precision-recall curve",
            x_label="recall",
            y_label="precision",
        )
    if importances := model.get("feature_importances"):
        top = sorted(importances, key=lambda f: -abs(f["importance"]))[:TOP_FEATURES]
        shown["importances"] = hbar_chart(
            [f["feature"] for f in top], [f["importance"] for f in top], title="Feature importances"
        )
    return shown


def _detail(ref: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    """The model page (``extra``: a form's outcome: its message or a prediction)."""
    db = context.db()
    model = registry.resolve(db, ref)
    name_aliases = AliasRepository(db).of_model(model["name"])
    protected = context.settings().protected_alias_names
    page = render_template(
        "models/detail.html",
        model=model,
        aliases=[a["alias"] for a in name_aliases if a["model_id"] == model["_id"]],
        name_aliases=name_aliases,
        protected=protected,
        versions=ModelRepository(db).version_ids(model["name"]),
        metrics=scalar_metrics(model),
        charts=model_charts(model),
        types=feature_types(db, model),
        onnx_ok=((model.get("formats") or {}).get("onnx") or {}).get("status") == "ok",
        form=request.form if request.method == "POST" else {},
        **extra,
    )
    return page, status


@bp.get("/models/<ref>")
def model(ref: str) -> tuple[str, int]:
    """One model version (any reference: id, ``name@alias``, ``name@v3``, ``name@latest``)."""
    return _detail(ref)


@bp.post("/models/<ref>/alias")
@require("train")
def move_alias(ref: str) -> Response | tuple[str, int]:
    """Point an alias at this version through ``registry.move_alias`` (with the optional
    promotion gate); a refusal (gate 409, protected alias 403) is shown on the page."""
    db = context.db()
    model = registry.resolve(db, ref)
    alias = request.form.get("alias", "").strip()
    try:
        move = _alias_move(model["version"])
        registry.move_alias(
            db,
            model["name"],
            alias,
            move,
            current_principal(),
            context.settings().protected_alias_names,
        )
    except TensorFleetError as error:
        return _detail(ref, error.http_status, alias_error=error.message)
    context.references().clear()  # this process's next prediction sees the move at once
    flash(f"{model['name']}@{alias} now points at version {model['version']}.", "ok")
    return redirect(url_for("web.model", ref=model["_id"]), 303)


def _alias_move(version: int) -> AliasMove:
    metric = request.form.get("gate_metric", "").strip()
    gate = {"metric": metric, "min_delta": form_number("min_delta", 0.0)} if metric else None
    try:
        return AliasMove.model_validate({"version": version, "gate": gate})
    except pydantic.ValidationError as error:
        problem = "; ".join(e["msg"] for e in error.errors())
        raise ValidationError(f"Check the gate: {problem}.", {"field": "gate"}) from None


@bp.post("/models/<ref>/predict")
@require("predict")
def predict_row(ref: str) -> tuple[str, int]:
    """Predict one row typed into the form (a field per feature), with class probabilities
    for a classifier, through the same service as ``POST /api/v1/models/<ref>/predict``."""
    serving = context.serving()
    model = registry.resolve(serving.db, ref)
    row = {f: [request.form.get(f"f.{f}", "").strip() or None] for f in model["features"]}
    try:
        answer = predict(serving, model, lambda: row, proba=True, request_id=context.request_id())
    except TensorFleetError as error:
        return _detail(ref, error.http_status, predict_error=error.message)
    return _detail(ref, prediction=answer)


@bp.get("/models/<ref>/download")
def download_model(ref: str) -> Response:
    """The model's joblib (``?format=joblib``) or ONNX file, verified as it streams."""
    fmt = request.args.get("format", "joblib")
    if fmt not in ("joblib", "onnx"):
        raise ValidationError("'format' must be joblib or onnx.", {"field": "format"})
    return model_file_response(ref, fmt)
