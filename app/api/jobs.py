"""Jobs: submit, poll (with long polling), list and cancel training jobs."""

from __future__ import annotations

from flask import Blueprint, url_for
from spectree import Response as Spec

from app.api import context
from app.api.idempotency import idempotent
from app.api.schemas import ErrorBody, Job, JobGetQuery, JobListQuery, JobPage, JobRequest
from app.api.spec import scope, spec
from app.metrics import JOBS_SUBMITTED
from app.services import jobs as job_service
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
    """Submit a training job; it is validated, stored, queued, and answered 202 at once.

    Example: `{"dataset": "iris", "algorithm": "random_forest", "hyperparameters":
    {"n_estimators": 50}}` → 202, `Location: /api/v1/jobs/<job_id>`, the job with
    `status: queued`. Unknown dataset → 404; bad algorithm or hyperparameter → 400
    naming the field and the allowed values; broker down → 503.
    """
    db, celery, redis_client = context.db(), context.celery(), context.redis_client()
    job = job_service.submit_job(db, celery, context.parsed().json, redis_client)
    JOBS_SUBMITTED.labels(job["algorithm"]).inc()
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
    """Jobs, newest first: `?status=&model_name=&dataset=&algorithm=&page=&limit=`."""
    query = context.parsed().query
    filters = query.model_dump(include={"status", "model_name", "dataset", "algorithm"})
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
