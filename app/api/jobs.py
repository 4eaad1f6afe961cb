"""Jobs: submit, poll (with long polling), list and cancel training and batch prediction
jobs, and download a batch prediction's output."""

from __future__ import annotations

from flask import Blueprint, stream_with_context, url_for
from spectree import Response as Spec
from werkzeug.wrappers import Response

from app.api import context
from app.api.idempotency import idempotent
from app.api.schemas import ErrorBody, Job, JobGetQuery, JobListQuery, JobPage, JobRequest
from app.api.spec import scope, spec
from app.metrics import JOBS_SUBMITTED
from app.services import jobs as job_service
from app.services.batch_predictions import open_output
from app.storage.jobs import JobRepository, public_job

bp = Blueprint("jobs", __name__)


@bp.post("")
@idempotent
@spec.validate(
    json=JobRequest,
    resp=Spec(HTTP_202=Job, HTTP_400=ErrorBody, HTTP_404=ErrorBody, HTTP_503=ErrorBody),
    tags=["jobs"],
    security=scope("train"),
)
def create_job() -> tuple[dict, int, dict]:
    """Submit a job; it is validated, stored, queued, and answered 202 at once.

    Training: `{"dataset": "iris", "algorithm": "random_forest", "hyperparameters":
    {"n_estimators": 50}}`. Batch prediction: `{"kind": "predict", "model":
    "iris_rf@champion", "dataset": "iris", "dataset_version": 1, "proba": true}` (the model
    is resolved and pinned to its version now; the output CSV is at
    `/api/v1/jobs/<job_id>/output` once it succeeds). → 202, `Location:
    /api/v1/jobs/<job_id>`, the job with `status: queued`. Unknown dataset or model → 404;
    bad algorithm, hyperparameter or missing feature → 400 naming the field and the allowed
    values; broker down → 503.
    """
    db, celery, redis_client = context.db(), context.celery(), context.redis_client()
    job = job_service.submit_job(db, celery, context.parsed().json, redis_client)
    JOBS_SUBMITTED.labels(job["algorithm"]).inc()  # batch predictions: the model's algorithm
    location = url_for("jobs.get_job", job_id=job["_id"])
    return public_job(job), 202, {"Location": location}


@bp.get("/<job_id>")
@spec.validate(
    query=JobGetQuery,
    resp=Spec(HTTP_200=Job, HTTP_404=ErrorBody),
    tags=["jobs"],
    security=scope("read"),
)
def get_job(job_id: str) -> dict:
    """One job. With `?wait=SECONDS` the call returns as soon as the job ends (long polling)."""
    wait = context.parsed().query.wait
    return public_job(job_service.get_job(context.db(), context.redis_client(), job_id, wait))


@bp.get("")
@spec.validate(
    query=JobListQuery, resp=Spec(HTTP_200=JobPage), tags=["jobs"], security=scope("read")
)
def list_jobs() -> dict:
    """Jobs, newest first: `?kind=train|predict|trial&search_id=&status=&model_name=&dataset=
    &algorithm=&page=&limit=`."""
    query = context.parsed().query
    fields = {"status", "model_name", "dataset", "algorithm", "search_id"}
    filters = query.model_dump(include=fields)
    if query.kind == "train":  # jobs stored before kinds existed are training jobs
        filters["kind"] = {"$nin": ["predict", "trial"]}
    elif query.kind is not None:
        filters["kind"] = query.kind
    return JobRepository(context.db()).list(filters, query.page, query.limit).as_json(public_job)


@bp.post("/<job_id>/cancel")
@spec.validate(
    resp=Spec(HTTP_202=Job, HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["jobs"],
    security=scope("train"),
)
def cancel_job(job_id: str) -> tuple[dict, int]:
    """Cancel a job: a queued one never runs; a running one is stopped. 409 if it had ended."""
    db, redis_client = context.db(), context.redis_client()
    return public_job(job_service.cancel_job(db, redis_client, context.celery(), job_id)), 202


@bp.get("/<job_id>/output")
@spec.validate(
    resp=Spec(HTTP_404=ErrorBody, HTTP_409=ErrorBody), tags=["jobs"], security=scope("read")
)
def download_output(job_id: str) -> Response:
    """A succeeded batch prediction's output CSV (key column or `row`, `prediction`, and
    `proba_<class>` columns when asked), verified against its signature as it streams;
    SHA-256 in `X-Checksum-SHA256`. 409 until the job has succeeded; 404 for a training
    job."""
    job, opened = open_output(context.db(), context.signer(), job_id)
    output = job["result"]["output"]
    return Response(
        stream_with_context(opened.chunks()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={output['filename']}",
            "Content-Length": str(opened.length),
            "X-Checksum-SHA256": opened.sha256,
        },
    )
