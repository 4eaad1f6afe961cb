"""``/api/v1/jobs``: submit, poll, list and cancel training jobs."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request, url_for
from spectree import Response as Spec

from app.api import context, metrics
from app.api.documents import job_json, page_json
from app.api.schemas import ErrorBody, Job, JobGetQuery, JobListQuery, JobPage, JobRequest
from app.api.spec import spec
from app.errors import ConflictError
from app.storage.jobs import FINISHED, JobRepository
from app.tasks.events import publish_job_finished, wait_until
from app.tasks.submission import BROKER_ERRORS, submit_job

log = logging.getLogger(__name__)
bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")


@bp.post("")
@spec.validate(
    json=JobRequest,
    resp=Spec(HTTP_202=Job, HTTP_400=ErrorBody, HTTP_404=ErrorBody, HTTP_503=ErrorBody),
    tags=["jobs"],
)
def create_job() -> tuple[dict, int, dict]:
    """Submit a training job; it is validated, stored, queued, and answered 202 at once.

    Example: `{"dataset": "iris", "algorithm": "random_forest", "hyperparameters":
    {"n_estimators": 50}}` → 202, `Location: /api/v1/jobs/<job_id>`, the job with
    `status: queued`. Unknown dataset → 404; bad algorithm or hyperparameter → 400
    naming the field and the allowed values; broker down → 503.
    """
    job = submit_job(context.db(), context.celery(), request.context.json.model_dump())
    metrics.JOBS_SUBMITTED.labels(job["algorithm"]).inc()
    location = url_for("jobs.get_job", job_id=job["_id"])
    return job_json(job), 202, {"Location": location}


@bp.get("/<job_id>")
@spec.validate(query=JobGetQuery, resp=Spec(HTTP_200=Job, HTTP_404=ErrorBody), tags=["jobs"])
def get_job(job_id: str) -> dict:
    """One job. With `?wait=SECONDS` the call returns as soon as the job ends (long polling)."""
    jobs = JobRepository(context.db())
    redis_client = context.redis_client()
    job = wait_until(
        redis_client,
        job_id,
        request.context.query.wait,
        lambda: jobs.get(job_id),
        lambda doc: doc["status"] in FINISHED,
    )
    return job_json(job)


@bp.get("")
@spec.validate(query=JobListQuery, resp=Spec(HTTP_200=JobPage), tags=["jobs"])
def list_jobs() -> dict:
    """Jobs, newest first: `?status=&model_name=&dataset=&algorithm=&page=&limit=`."""
    query = request.context.query
    filters = {
        "status": query.status,
        "model_name": query.model_name,
        "dataset": query.dataset,
        "algorithm": query.algorithm,
    }
    page = JobRepository(context.db()).list(filters, query.page, query.limit)
    return page_json(page, job_json)


@bp.post("/<job_id>/cancel")
@spec.validate(resp=Spec(HTTP_202=Job, HTTP_404=ErrorBody, HTTP_409=ErrorBody), tags=["jobs"])
def cancel_job(job_id: str) -> tuple[dict, int] | Response:
    """Cancel a job: a queued one never runs; a running one is stopped. 409 if it had ended."""
    jobs = JobRepository(context.db())
    job = jobs.request_cancel(job_id)
    if job is None:
        current = jobs.get(job_id)
        raise ConflictError(
            f"Job '{job_id}' already {current['status']}.",
            {"job_id": job_id, "status": current["status"]},
        )
    if job["status"] == "cancelled":
        publish_job_finished(context.redis_client(), job_id)
    try:  # queued: workers drop the message; running: its process is stopped
        context.celery().control.revoke(job_id, terminate=job["status"] == "running")
    except BROKER_ERRORS as exc:  # the flag is set; the worker also checks it at every stage
        log.warning("revoke of %s not broadcast: %s", job_id, exc)
    return job_json(job), 202
