"""Scheduled retraining: a cron, a training job or search to submit, a promotion rule.
Fired by beat (``app.services.schedules``); each firing is in the schedule's ``runs``."""

from __future__ import annotations

from flask import Blueprint, url_for
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ErrorBody, PageQuery
from app.api.spec import scope, spec
from app.services import schedules as schedule_service
from app.services.schedules import SchedulePatch, ScheduleRequest
from app.storage.schedules import ScheduleRepository, public_schedule

bp = Blueprint("schedules", __name__)


class ScheduleListQuery(PageQuery):
    """``?paused=true|false``, ``page`` and ``limit``."""

    paused: bool | None = None


@bp.post("")
@spec.validate(
    json=ScheduleRequest,
    resp=Spec(HTTP_400=ErrorBody, HTTP_403=ErrorBody, HTTP_404=ErrorBody, HTTP_409=ErrorBody),
    tags=["schedules"],
    security=scope("train"),
)
def create_schedule() -> tuple[dict, int, dict]:
    """Retrain on a schedule: `{"name": "nightly-churn", "cron": "0 3 * * *", "timezone":
    "UTC", "job": {"dataset": "churn", "algorithm": "random_forest"}, "promote": {"alias":
    "champion", "metric": "f1_macro", "min_delta": 0.0}}` → 201 with its `schedule_id` and
    `next_run_at`. The cron, the time zone and the job (a training job, or a search with a
    `strategy`) are validated as their own routes would; `"trigger": "drift"` fires only
    when the model's inputs drifted. A protected `promote.alias` needs an admin key."""
    schedule = schedule_service.create_schedule(
        context.db(),
        context.parsed().json,
        context.principal(),
        context.settings(),
    )
    location = url_for("schedules.get_schedule", schedule_id=schedule["_id"])
    return public_schedule(schedule, []), 201, {"Location": location}


@bp.get("")
@spec.validate(query=ScheduleListQuery, tags=["schedules"], security=scope("read"))
def list_schedules() -> dict:
    """Schedules by name: `?paused=&page=&limit=`."""
    query = context.parsed().query
    page = ScheduleRepository(context.db()).list(query.page, query.limit, query.paused)
    return page.as_json(public_schedule)


@bp.get("/<schedule_id>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["schedules"], security=scope("read"))
def get_schedule(schedule_id: str) -> dict:
    """One schedule with its 20 latest firings (`runs`: `scheduled_for`, `outcome`
    submitted | skipped | failed, the `job_id` or `search_id`, `reason`, and the
    `promotion` decision once the job ended)."""
    repo = ScheduleRepository(context.db())
    return public_schedule(repo.get(schedule_id), repo.recent_runs(schedule_id))


@bp.patch("/<schedule_id>")
@spec.validate(
    json=SchedulePatch,
    resp=Spec(HTTP_400=ErrorBody, HTTP_404=ErrorBody),
    tags=["schedules"],
    security=scope("train"),
)
def update_schedule(schedule_id: str) -> dict:
    """`{"paused": true}` pauses, `false` resumes from the next slot to come; a new `cron`
    or `timezone` re-times it."""
    changed = schedule_service.update_schedule(context.db(), schedule_id, context.parsed().json)
    return public_schedule(changed)


@bp.delete("/<schedule_id>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["schedules"], security=scope("train"))
def delete_schedule(schedule_id: str) -> tuple[str, int]:
    """Delete the schedule; its jobs, models and firing records stay."""
    ScheduleRepository(context.db()).delete(schedule_id)
    return "", 204
