"""Jobs pages: the list (filters, sorting, live progress), a job's detail, submit, cancel."""

from __future__ import annotations

from typing import Any

import pydantic
from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.api import context
from app.errors import TensorFleetError, ValidationError
from app.metrics import JOBS_SUBMITTED
from app.services import jobs as job_service
from app.services.jobs import JobRequest
from app.statuses import STATUSES
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository
from app.web.blueprint import bp
from app.web.hyperparameters import algorithm_tasks, fields_for
from app.web.params import MAX_LIMIT, choice, form_value, id_list, page_and_limit, text
from app.web.session import local_path, require

KINDS = ("train", "predict", "trial")
SORTS = {
    "-created_at": [("created_at", -1), ("_id", -1)],
    "created_at": [("created_at", 1), ("_id", 1)],
    "status": [("status", 1), ("created_at", -1)],
    "model_name": [("model_name", 1), ("created_at", -1)],
    "algorithm": [("algorithm", 1), ("created_at", -1)],
    "dataset": [("dataset", 1), ("created_at", -1)],
}
ROW_FIELDS = dict.fromkeys(
    [
        "kind",
        "status",
        "progress",
        "dataset",
        "dataset_version",
        "algorithm",
        "model_name",
        "created_at",
        "started_at",
        "finished_at",
        "search_id",
        "trial",
        "attempts",
        "result",  # whole: the local stack's MongoDB server ignores dotted projections
        "error",
    ],
    1,
)
STAGES = {
    "train": ("queued", "loading_data", "preprocessing", "fitting", "evaluating", "saving"),
    "trial": ("queued", "loading_data", "preprocessing", "fitting", "saving"),
    "predict": ("queued", "loading_model", "loading_data", "predicting", "saving"),
}
SORT_LABELS = (
    ("-created_at", "newest first"),
    ("created_at", "oldest first"),
    ("status", "status"),
    ("model_name", "model name"),
    ("algorithm", "algorithm"),
    ("dataset", "dataset"),
)
FORM_FIELDS = ("model_name", "target", "dataset_version", "test_size", "random_state")


def _filters() -> dict[str, Any]:
    """The list's filters as the query string gives them (None: not filtered)."""
    return {
        "status": choice("status", STATUSES),
        "kind": choice("kind", KINDS),
        "model_name": text("model_name"),
        "dataset": text("dataset"),
        "algorithm": text("algorithm"),
        "search_id": text("search_id"),
    }


def _query(filters: dict[str, Any]) -> dict[str, Any]:
    query = {key: value for key, value in filters.items() if value is not None}
    if query.get("kind") == "train":  # jobs stored before kinds existed are training jobs
        query["kind"] = {"$nin": ["predict", "trial"]}
    return query


@bp.get("/")
def jobs() -> str:
    """Jobs, newest first by default, filtered and sorted by the query string."""
    filters, sort = _filters(), choice("sort", SORTS, "-created_at") or "-created_at"
    page, limit = page_and_limit()
    found = JobRepository(context.db()).find_window(
        _query(filters), SORTS[sort], page, limit, ROW_FIELDS
    )
    return render_template(
        "jobs/list.html",
        page=found,
        filters=filters,
        sort=sort,
        sorts=SORT_LABELS,
        statuses=STATUSES,
        kinds=KINDS,
    )


@bp.get("/jobs/progress")
def jobs_progress() -> str:
    """The rows of the jobs ``?ids=`` (the list polls this while any of them is active)."""
    ids = id_list()[:MAX_LIMIT]
    found = {job["_id"]: job for job in JobRepository(context.db()).find_many(ids, ROW_FIELDS)}
    rows = [found[job_id] for job_id in ids if job_id in found]
    return render_template("jobs/_rows.html", jobs=rows)


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    """One job: its stages, times, attempts, worker, error, model and search."""
    doc = JobRepository(context.db()).get(job_id)
    return render_template("jobs/detail.html", job=doc, stages=STAGES)


@bp.get("/jobs/<job_id>/live")
def job_live(job_id: str) -> str:
    """The part of a job's page that changes while it runs (polled until it ends)."""
    doc = JobRepository(context.db()).get(job_id)
    return render_template("jobs/_live.html", job=doc, stages=STAGES)


@bp.post("/jobs/<job_id>/cancel")
@require("train")
def cancel_job(job_id: str) -> Response:
    """Cancel a job, then back to where the button was (a note says what happened)."""
    db, redis_client = context.db(), context.redis_client()
    try:
        job_service.cancel_job(db, redis_client, context.celery(), job_id)
        flash(f"Job {job_id} cancelled.", "ok")
    except TensorFleetError as error:
        if error.http_status == 404:
            raise
        flash(error.message, "error")
    back = local_path(request.form.get("next"), url_for("web.job", job_id=job_id))
    return redirect(back, 303)


@bp.get("/jobs/new")
@require("train")
def new_job() -> str:
    """The submit form (``?dataset=`` and ``?algorithm=`` preselect)."""
    return _form(request.args.to_dict(), None)


def _form(values: dict[str, Any], error: str | None) -> str:
    datasets = DatasetRepository(context.db()).names()
    algorithms = algorithm_tasks()
    dataset = values.get("dataset") or (datasets[0] if datasets else "")
    algorithm = values.get("algorithm") or next(iter(algorithms), "")
    return render_template(
        "jobs/new.html",
        datasets=datasets,
        algorithms=algorithms,
        values={**values, "dataset": dataset, "algorithm": algorithm},
        fields=_fields(dataset, algorithm, values.get("target")),
        error=error,
    )


def _fields(dataset: str, algorithm: str, target: str | None) -> dict[str, Any]:
    """The hyperparameter fields of ``algorithm`` for the task of ``dataset``'s target."""
    doc = DatasetRepository(context.db()).find(dataset) if dataset else None
    if doc is None or algorithm not in algorithm_tasks():
        return {"task": None, "params": (), "columns": []}
    chosen = target or doc["target"]
    task = (doc.get("targets", {}).get(chosen) or {}).get("task", doc["task"])
    columns = [doc["target"], *[c for c in doc.get("targets", {}) if c != doc["target"]]]
    return {"task": task, "params": fields_for(algorithm, task), "columns": columns}


@bp.get("/jobs/hyperparameters")
@require("train")
def hyperparameter_fields() -> str:
    """The form's hyperparameter fieldset for ``?algorithm=&dataset=&target=`` (swapped in
    when either select changes)."""
    args = request.args
    fields = _fields(args.get("dataset", ""), args.get("algorithm", ""), args.get("target"))
    return render_template("jobs/_hyperparameters.html", fields=fields, values=args.to_dict())


@bp.post("/jobs")
@require("train")
def submit_job() -> Response | tuple[str, int]:
    """Submit the form through the same use case as ``POST /api/v1/jobs``; on a refusal the
    form comes back with the message and what was typed."""
    values = request.form.to_dict()
    try:
        job = job_service.submit_job(
            context.db(), context.celery(), _job_request(values), context.redis_client()
        )
    except TensorFleetError as error:
        return _form(values, error.message), error.http_status
    JOBS_SUBMITTED.labels(job["algorithm"]).inc()
    flash(f"Job {job['_id']} submitted.", "ok")
    return redirect(url_for("web.job", job_id=job["_id"]), 303)


def _job_request(values: dict[str, str]) -> JobRequest:
    """The form as the API's request body (blank fields: the defaults)."""
    hyper = {
        key[3:]: form_value(value)
        for key, value in values.items()
        if key.startswith("hp.") and value.strip()
    }
    body: dict[str, Any] = {
        "dataset": values.get("dataset", ""),
        "algorithm": values.get("algorithm") or None,
        "hyperparameters": hyper,
        **{key: values[key].strip() for key in FORM_FIELDS if values.get(key, "").strip()},
    }
    try:
        return JobRequest.model_validate(body)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in error.errors()
        )
        raise ValidationError(f"Check the form: {problems}.", {"field": "form"}) from None
