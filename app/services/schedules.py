"""Scheduled retraining: cron schedules that submit a training job or a search, and a
promotion rule that moves an alias only when the new version passes its gate.

Beat fires them: every supervisor tick (``app.services.supervisor``, on the beat process)
calls ``fire_due`` and ``decide_promotions``. A due schedule fires its latest slot only,
so a schedule whose slots passed during downtime runs once on start-up, not once per
missed slot; the firing is claimed by inserting its key (``app.storage.schedules``) and
the job or search it submits carries that key as its id, so a duplicate beat, a restart
or a crash between the claim and the submission never makes a second job. Jobs (and a
search's trials and refit) carry the schedule's ``schedule_id``.

``"trigger": "drift"`` fires only when the model's recent inputs drifted from its training
data (``app.services.drift``); every decision (submitted, skipped with its reason, failed)
is a firing record, and every promotion decision (moved or kept, with the scores) is in
the alias history.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.config import Settings
from app.errors import (
    ConflictError,
    PermissionDeniedError,
    ServiceUnavailableError,
    TensorFleetError,
    ValidationError,
)
from app.ml.search_space import ranking
from app.services.jobs import JobRequest, new_job, submit_job
from app.services.keys import Principal
from app.services.registry import AliasMove, Gate, check_alias_name, check_gate, move_alias
from app.services.searches import SearchRequest, new_search, submit_search
from app.statuses import ACTIVE
from app.storage.aliases import AliasRepository
from app.storage.jobs import JobRepository
from app.storage.models import ModelRepository
from app.storage.schedules import ScheduleRepository
from app.storage.searches import SearchRepository
from app.tasks.celery_app import FleetQueues, TensorFleetCelery

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(seconds=60)  # a claimed firing not settled this long is finished again
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class Promotion(BaseModel):
    """After a scheduled job succeeds: move ``alias`` to its version if it scores at least
    the alias's current version's ``metric`` plus ``min_delta``."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(min_length=1, max_length=64, examples=["champion"])
    metric: str = Field(min_length=1, max_length=64, examples=["f1_macro"])
    min_delta: float = Field(0.0, ge=-1e6, le=1e6)


class ScheduleRequest(BaseModel):
    """Body of ``POST /api/v1/schedules``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, examples=["nightly-churn"])
    cron: str = Field(min_length=1, max_length=100, examples=["0 3 * * *"])
    timezone: str = Field("UTC", max_length=64, examples=["UTC"])
    job: dict[str, Any] = Field(
        description="A training job (as POST /jobs) or a search (as POST /searches: it has a"
        " `strategy`) request."
    )
    promote: Promotion | None = None
    trigger: Literal["always", "drift"] = Field(
        "always", description="`drift`: fire only when the model's inputs drifted."
    )
    paused: bool = False


class SchedulePatch(BaseModel):
    """Body of ``PATCH /api/v1/schedules/<id>``: pause or resume, a new cron or time zone."""

    model_config = ConfigDict(extra="forbid")

    paused: bool | None = None
    cron: str | None = Field(None, min_length=1, max_length=100)
    timezone: str | None = Field(None, max_length=64)


# -- creation and changes ---------------------------------------------------------------------
def create_schedule(
    db: Database, request: ScheduleRequest, who: Principal | None, settings: Settings
) -> dict[str, Any]:
    """Validate the cron, the time zone, the job (as its own route would) and the promotion
    rule; store the schedule with its first slot to come."""
    zone = _zone(request.timezone)
    _check_cron(request.cron)
    protected = settings.protected_alias_names
    kind, task, model_name = _check_job(db, request.job, who, settings)
    if request.promote is not None:
        check_alias_name(request.promote.alias)
        if request.promote.alias in protected and not (who and who.allows("admin")):
            raise PermissionDeniedError(
                f"'{request.promote.alias}' is a protected alias: a schedule that moves it"
                " needs the 'admin' scope.",
                {"required_scope": "admin", "field": "promote.alias"},
            )
        _field("promote.metric", lambda: ranking(task, request.promote.metric))
    fields = request.model_dump()
    fields.update(
        kind=kind,
        model_name=model_name,
        next_run_at=next_slot(request.cron, zone, datetime.now(UTC)),
        created_by=who.key_id if who else None,
    )
    return ScheduleRepository(db).insert(fields)


def update_schedule(db: Database, schedule_id: str, patch: SchedulePatch) -> dict[str, Any]:
    """Pause, resume (from the next slot to come: a pause fires nothing afterwards) or
    re-time a schedule."""
    repo = ScheduleRepository(db)
    schedule = repo.get(schedule_id)
    changes = patch.model_dump(exclude_none=True)
    if not changes:
        raise ValidationError("Nothing to change: give paused, cron or timezone.", {})
    cron, timezone = (
        changes.get("cron", schedule["cron"]),
        changes.get("timezone", schedule["timezone"]),
    )
    zone = _zone(timezone)
    _check_cron(cron)
    if {"cron", "timezone"} & set(changes) or (
        schedule["paused"] and changes.get("paused") is False
    ):
        changes["next_run_at"] = next_slot(cron, zone, datetime.now(UTC))
    return repo.update(schedule_id, changes)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown time zone {name!r} (an IANA name such as UTC or Europe/Paris).",
            {"field": "timezone", "value": name},
        ) from None


def _check_cron(cron: str) -> None:
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValidationError(
            f"{cron!r} is not a cron expression of 5 fields (minute hour day month weekday).",
            {"field": "cron", "value": cron},
        )


def _check_job(
    db: Database, body: dict[str, Any], who: Principal | None, settings: Settings
) -> tuple[str, str, str]:
    """``(kind, task, model_name)`` of a schedule's job, validated as its route would."""
    if "strategy" in body:
        search_request = _field("job", lambda: SearchRequest.model_validate(body))
        doc = _field(
            "job", lambda: new_search(db, search_request, who, settings.protected_alias_names)
        )
        return "search", doc["task"], doc["model_name"]
    job_request = _field("job", lambda: JobRequest.model_validate(body))
    if job_request.kind != "train":
        raise ValidationError("A schedule retrains: its job is a training job or a search.",
                              {"field": "job.kind", "value": job_request.kind})  # fmt: skip
    doc = _field("job", lambda: new_job(db, job_request, FleetQueues.of(settings)))
    return "train", doc["task"], doc["model_name"]


def _field(prefix: str, call: Any) -> Any:
    """``call()``, its validation errors naming ``prefix.<field>``."""
    from pydantic import ValidationError as PydanticError

    try:
        return call()
    except PydanticError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationError(
            f"{prefix}.{where}: {first['msg']}", {"field": f"{prefix}.{where}"}
        ) from None
    except ValidationError as error:
        inner = error.details.get("field")
        details = {**error.details, "field": f"{prefix}.{inner}" if inner else prefix}
        raise ValidationError(f"{prefix}: {error.message}", details) from None


def next_slot(cron: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first slot of ``cron`` (in ``zone``) strictly after ``after``, in UTC."""
    return croniter(cron, after.astimezone(zone)).get_next(datetime).astimezone(UTC)


def latest_slot(cron: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The last slot of ``cron`` (in ``zone``) at or before ``now``, in UTC."""
    moment = now.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return croniter(cron, moment).get_prev(datetime).astimezone(UTC)


# -- firing ---------------------------------------------------------------------------------
def fire_due(
    db: Database,
    redis_client: redis.Redis | None,
    celery: TensorFleetCelery,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Fire every due schedule's latest slot once; finish firings a crash left unsettled.
    Returns how many firings submitted a job or a search."""
    now = now or datetime.now(UTC)
    repo, submitted = ScheduleRepository(db), 0
    for run in repo.stuck(now - STUCK_AFTER):
        schedule = _find(repo, run["schedule_id"])
        if schedule is None:
            repo.settle(run["_id"], {"outcome": "failed", "reason": "the schedule was deleted"})
        else:
            submitted += _submit(db, redis_client, celery, settings, schedule, run) == "submitted"
    for schedule in repo.due(now):
        zone = ZoneInfo(schedule["timezone"])
        slot = latest_slot(schedule["cron"], zone, now)
        claimed = repo.claim(schedule, slot)
        outcome = "claimed elsewhere"
        if claimed is not None:
            outcome = _submit(db, redis_client, celery, settings, schedule, claimed)
            submitted += outcome == "submitted"
        if outcome != "retry":  # the queue was down: the same slot fires at the next tick
            repo.advance(
                schedule["_id"], schedule["next_run_at"], next_slot(schedule["cron"], zone, now)
            )
    return submitted


def _find(repo: ScheduleRepository, schedule_id: str) -> dict[str, Any] | None:
    try:
        return repo.get(schedule_id)
    except TensorFleetError:
        return None


def _submit(
    db: Database,
    redis_client: redis.Redis | None,
    celery: TensorFleetCelery,
    settings: Settings,
    schedule: dict[str, Any],
    run: dict[str, Any],
) -> str:
    """Submit a claimed firing's job or search; its outcome (``retry``: released)."""
    repo = ScheduleRepository(db)
    if schedule.get("trigger") == "drift":
        drifted, why = _drifted(db, settings, schedule, run)
        if not drifted:
            repo.settle(run["_id"], {"outcome": "skipped", "reason": why})
            return "skipped"
    extra = {
        "_id": run["_id"],
        "schedule_id": schedule["_id"],
        "scheduled_for": run["scheduled_for"],
    }
    search = schedule["kind"] == "search"
    made = {"search_id" if search else "job_id": run["_id"]}
    try:
        if search:
            submit_search(db, celery, SearchRequest.model_validate(schedule["job"]), redis_client,
                          extra=extra)  # fmt: skip
        else:
            submit_job(db, celery, JobRequest.model_validate(schedule["job"]), redis_client, extra)
    except DuplicateKeyError:
        pass  # submitted by an earlier tick that stopped before settling: the same job
    except ServiceUnavailableError as error:
        log.warning(
            "schedule %s: %s; the slot fires again at the next tick", schedule["name"], error
        )
        repo.release(run["_id"])
        return "retry"
    except TensorFleetError as error:  # the dataset is gone, a value no longer valid, ...
        repo.settle(run["_id"], {"outcome": "failed", "reason": error.message})
        return "failed"
    repo.settle(run["_id"], {"outcome": "submitted", **made})
    log.info("schedule %s fired %s", schedule["name"], run["_id"])
    return "submitted"


def _drifted(
    db: Database, settings: Settings, schedule: dict[str, Any], run: dict[str, Any]
) -> tuple[bool, str]:
    """Whether the schedule's model drifted since its last firing, and why not if not."""
    from app.services.drift import drift_report  # a schedule with a drift trigger only
    from app.storage.signing import Signer

    promote = schedule.get("promote") or {}
    ref = f"{schedule['model_name']}@{promote.get('alias') or 'latest'}"
    try:
        report = drift_report(db, Signer.from_settings(settings), settings, ref)
    except TensorFleetError as error:
        return False, f"no drift check of {ref}: {error.message}"
    if report["drift"]:
        return True, ""
    drifted = sum(1 for feature in report["features"].values() if feature["drift"])
    return False, f"no drift in {ref}'s inputs ({drifted} of {len(report['features'])} features)"


# -- promotion ------------------------------------------------------------------------------
def decide_promotions(db: Database) -> int:
    """Apply the promotion rule of every firing whose job or search has ended; each
    decision once (recorded on the firing, then carried out), with its reason in the alias
    history. Returns how many were decided."""
    repo, decided = ScheduleRepository(db), 0
    for run in repo.awaiting_promotion():
        schedule = _find(repo, run["schedule_id"])
        rule = (schedule or {}).get("promote")
        status, model_id = _result(db, run)
        if status in ACTIVE:
            continue
        if rule is None or status != "succeeded" or model_id is None:
            why = "no promotion rule" if rule is None else f"the scheduled work ended {status}"
            decided += repo.decide(run["_id"], {"decision": "none", "reason": why})
            continue
        decision = _verdict(db, rule, model_id, schedule["name"])  # type: ignore[index]
        if repo.decide(run["_id"], decision):
            decided += 1
            _carry_out(db, rule, decision)
    return decided


def _result(db: Database, run: dict[str, Any]) -> tuple[str, str | None]:
    """The status of a firing's job or search and the model it registered."""
    if run.get("search_id"):
        search = SearchRepository(db).find(run["search_id"])
        return (search["status"], search.get("model_id")) if search else ("deleted", None)
    job = JobRepository(db).find(run["job_id"])
    if job is None:
        return "deleted", None
    return job["status"], (job.get("result") or {}).get("model_id")


def _verdict(db: Database, rule: dict[str, Any], model_id: str, schedule: str) -> dict:
    """Whether the new version passes the rule's gate, and why, as a firing records it."""
    models = ModelRepository(db)
    candidate = models.find(model_id)
    if candidate is None:
        return {"decision": "none", "reason": "the new version was deleted"}
    name, alias, metric = candidate["name"], rule["alias"], rule["metric"]
    current = AliasRepository(db).find(name, alias)
    incumbent = models.find(current["model_id"]) if current else None
    base = {"model": name, "alias": alias, "version": candidate["version"], "schedule": schedule}
    new = candidate["metrics"].get(metric)
    try:
        check_gate(Gate(metric=metric, min_delta=rule["min_delta"]), candidate, incumbent)
    except (ConflictError, ValidationError) as refused:
        return {**base, "decision": "kept", "reason": f"schedule {schedule}: {refused.message}"}
    if incumbent is None:
        why = (
            f"schedule {schedule}: v{candidate['version']} {metric}={new}; @{alias} held no version"
        )
    else:
        old = incumbent["metrics"].get(metric)
        why = (f"schedule {schedule}: v{candidate['version']} {metric}={new:.6g} >= v"
               f"{incumbent['version']} {old:.6g} + {rule['min_delta']:g}")  # fmt: skip
    return {**base, "decision": "moved", "reason": why}


def _carry_out(db: Database, rule: dict[str, Any], decision: dict[str, Any]) -> None:
    """Move the alias (no gate: the verdict is the gate) or record that it stays."""
    if decision["decision"] == "moved":
        move = AliasMove(version=decision["version"])
        move_alias(
            db, decision["model"], rule["alias"], move, None, frozenset(), decision["reason"]
        )
    elif decision["decision"] == "kept":
        AliasRepository(db).keep(
            decision["model"], rule["alias"], decision["version"], None, decision["reason"]
        )
