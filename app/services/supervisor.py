"""The supervisor: what beat runs every few seconds so no job is stuck and nothing leaks.

Each check is one conditional write per job, so running it twice, or from two
beat processes at once, changes nothing more than running it once:

- ``recover_expired``: a running job whose lease expired lost its worker. If its
  model was committed it is finished ``succeeded``; if a cancel was requested it
  ends ``cancelled``; else it is requeued and its message published again (the
  stale message Redis may redeliver later finds the job taken and is dropped).
- ``republish_lost``: a job queued for ``REPUBLISH_AFTER_SECONDS`` whose id is not
  in the published set lost its message (Redis restarted without its data); it
  is published again. Jobs waiting in a long backlog are in the set: untouched.
- ``collect_orphans``: model uploads whose run can no longer commit them (job
  ended, another attempt owns it, or its lease expired) are deleted.
- ``fire_due`` and ``decide_promotions`` (``app.services.schedules``): scheduled
  retraining, each firing claimed by its key, each promotion decided once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import redis
from pymongo.database import Database

from app.config import Settings
from app.services.exports import queue_export
from app.services.jobs import publish
from app.services.outcomes import JobOutcomes
from app.services.schedules import decide_promotions, fire_due
from app.services.searches import advance
from app.statuses import FINISHED
from app.storage.jobs import JobRepository
from app.storage.leases import JobLeases
from app.storage.models import ModelRepository, model_file_ids
from app.storage.mongo import utcnow
from app.storage.published import unpublished
from app.storage.searches import SearchRepository
from app.storage.uploads import UploadRepository
from app.tasks.celery_app import TensorFleetCelery

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    """What one supervisor tick did."""

    requeued: int = 0
    finished: int = 0
    cancelled: int = 0
    republished: int = 0
    orphans_removed: int = 0
    searches_moved: int = 0
    exports_queued: int = 0
    schedules_fired: int = 0
    promotions_decided: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, for logs and the task result."""
        return asdict(self)


def tick(
    db: Database, redis_client: redis.Redis, celery: TensorFleetCelery, settings: Settings
) -> TickReport:
    """Run every check once."""
    report = TickReport()
    recover_expired(db, redis_client, celery, report)
    republish_lost(db, redis_client, celery, settings, report)
    collect_orphans(db, settings, report)
    advance_searches(db, redis_client, celery, report)
    queue_pending_exports(db, celery, settings, report)
    report.schedules_fired = fire_due(db, redis_client, celery, settings)
    report.promotions_decided = decide_promotions(db)
    if any(report.as_dict().values()):
        log.info("supervisor: %s", report.as_dict())
    return report


def recover_expired(
    db: Database, redis_client: redis.Redis, celery: TensorFleetCelery, report: TickReport
) -> None:
    """Finish, cancel or requeue every running job whose lease has expired."""
    leases, models = JobLeases(db), ModelRepository(db)
    outcomes = JobOutcomes(db, redis_client)
    for job in leases.expired():
        committed = models.find_by_job(job["_id"])
        if committed is not None:  # died between the commit and the job's update
            if outcomes.succeed(job["_id"], committed, job["attempts"]) is not None:
                report.finished += 1
        elif job.get("cancel_requested"):
            if outcomes.fail(job["_id"], "cancelled", "Cancelled by request.", job["attempts"]):
                report.cancelled += 1
        elif leases.requeue(job):
            requeued = JobRepository(db).find(job["_id"])
            if requeued is not None and requeued["status"] == "queued":
                publish(celery, requeued, redis_client)
                report.requeued += 1
                log.warning("job %s lost its worker (lease expired): requeued", job["_id"])


def republish_lost(
    db: Database,
    redis_client: redis.Redis,
    celery: TensorFleetCelery,
    settings: Settings,
    report: TickReport,
) -> None:
    """Publish again the queued jobs whose message Redis no longer has."""
    cutoff = utcnow() - timedelta(seconds=settings.republish_after_seconds)
    waiting = JobRepository(db).queued_before(cutoff)
    by_id = {job["_id"]: job for job in waiting}
    for job_id in unpublished(redis_client, list(by_id)):
        publish(celery, by_id[job_id], redis_client)
        report.republished += 1
        log.warning("job %s had no message in Redis: published again", job_id)


def advance_searches(
    db: Database, redis_client: redis.Redis, celery: TensorFleetCelery, report: TickReport
) -> None:
    """Advance every running search (a trial whose end did not advance it: a hard time
    limit, a worker lost after the trial ended, a cancelled trial)."""
    for running in SearchRepository(db).running():
        before = _position(SearchRepository(db).get(running["_id"]))
        if _position(advance(db, celery, redis_client, running["_id"])) != before:
            report.searches_moved += 1


def _position(search: dict[str, Any] | None) -> tuple[Any, ...]:
    """How far a search has got (what ``advance`` can change)."""
    search = search or {}
    return search.get("launched"), search.get("status"), search.get("refit_job_id")


def queue_pending_exports(
    db: Database, celery: TensorFleetCelery, settings: Settings, report: TickReport
) -> None:
    """Queue again the ONNX export of models still pending (a lost message, a dead worker)."""
    cutoff = utcnow() - timedelta(seconds=settings.republish_after_seconds)
    for model_id in ModelRepository(db).pending_exports(cutoff):
        queue_export(celery, model_id)
        report.exports_queued += 1


def collect_orphans(db: Database, settings: Settings, report: TickReport) -> None:
    """Delete model uploads that no live run can still commit."""
    uploads, jobs, models = UploadRepository(db), JobRepository(db), ModelRepository(db)
    for upload in uploads.older_than(settings.lease_seconds):
        job = jobs.find(upload["job_id"])
        if job is not None and not _can_still_commit(job, upload["attempt"]):
            committed = models.find_by_job(job["_id"])
            if committed is None or upload["_id"] not in model_file_ids(committed):
                models.artifacts.delete(upload["_id"])
                report.orphans_removed += 1
        elif job is None:
            models.artifacts.delete(upload["_id"])
            report.orphans_removed += 1
        else:
            continue
        uploads.done(upload["_id"])


def _can_still_commit(job: dict[str, Any], attempt: int) -> bool:
    """Whether attempt ``attempt`` of ``job`` may still be running and commit its upload."""
    if job["status"] in FINISHED or job["attempts"] != attempt or job["status"] != "running":
        return False
    lease = job.get("lease_until")
    return lease is not None and lease >= utcnow()
