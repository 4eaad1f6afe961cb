"""Scheduled retraining with a time-shifted clock: a due schedule fires its latest slot once
(a duplicate beat, a restart or missed slots make no second job), pause and resume, the
validation at creation, and the promotion rule's decisions in the alias history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.config import Settings
from app.errors import ConflictError, ValidationError
from app.services.keys import Principal
from app.services.registry import AliasMove, move_alias
from app.services.schedules import (
    SchedulePatch,
    ScheduleRequest,
    create_schedule,
    decide_promotions,
    fire_due,
    latest_slot,
    next_slot,
    update_schedule,
)
from app.storage.aliases import AliasRepository
from app.storage.schedules import ScheduleRepository

ADMIN = Principal("k", "admin", frozenset({"admin"}))
TRAIN = {"dataset": "iris", "algorithm": "knn", "model_name": "iris_nightly"}
UTC_ZONE = ZoneInfo("UTC")
SETTINGS = Settings(protected_aliases="champion")


def _create(db, **fields):
    body = {"name": "nightly", "cron": "0 3 * * *", "job": TRAIN, **fields}
    return create_schedule(db, ScheduleRequest(**body), ADMIN, SETTINGS)


def _jobs_of(db, schedule_id: str) -> list[dict]:
    return list(db.jobs.find({"schedule_id": schedule_id}))


def test_slots_are_the_crons_in_its_time_zone() -> None:
    now = datetime(2026, 12, 2, 16, 40, tzinfo=UTC)
    assert latest_slot("0 3 * * *", UTC_ZONE, now) == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert next_slot("0 3 * * *", UTC_ZONE, now) == datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    paris = ZoneInfo("Europe/Paris")  # 03:00 in Paris is 02:00 UTC in winter
    assert next_slot("0 3 * * *", paris, now) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    exact = datetime(2026, 12, 2, 3, 0, 30, tzinfo=UTC)
    assert latest_slot("0 3 * * *", UTC_ZONE, exact) == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_a_due_schedule_fires_once_whatever_fires_it(loaded_db, redis, celery, settings) -> None:
    schedule = _create(loaded_db)
    first = schedule["next_run_at"]
    assert fire_due(loaded_db, redis, celery, settings, first - timedelta(seconds=1)) == 0
    at = first + timedelta(seconds=5)
    assert fire_due(loaded_db, redis, celery, settings, at) == 1
    # a duplicate beat reaching the same slot (its view of the schedule is the old one)
    loaded_db.schedules.update_one({"_id": schedule["_id"]}, {"$set": {"next_run_at": first}})
    assert fire_due(loaded_db, redis, celery, settings, at + timedelta(seconds=1)) == 0
    jobs = _jobs_of(loaded_db, schedule["_id"])
    assert len(jobs) == 1 and jobs[0]["scheduled_for"] == first
    assert jobs[0]["model_name"] == "iris_nightly" and jobs[0]["status"] == "queued"
    assert [m["task_id"] for m in celery.sent] == [jobs[0]["_id"]]
    after = ScheduleRepository(loaded_db).get(schedule["_id"])
    assert after["next_run_at"] == first + timedelta(days=1)


def test_slots_missed_during_downtime_fire_once_on_start_up(
    loaded_db, redis, celery, settings
) -> None:
    schedule = _create(loaded_db)
    back = schedule["next_run_at"] + timedelta(days=3, hours=2)  # three slots went by
    assert fire_due(loaded_db, redis, celery, settings, back) == 1
    assert fire_due(loaded_db, redis, celery, settings, back + timedelta(minutes=1)) == 0
    (job,) = _jobs_of(loaded_db, schedule["_id"])
    assert job["scheduled_for"] == schedule["next_run_at"] + timedelta(days=3)  # the latest


def test_a_firing_that_crashed_before_its_submission_is_finished_once(
    loaded_db, redis, celery, settings
) -> None:
    schedule = _create(loaded_db)
    repo = ScheduleRepository(loaded_db)
    run = repo.claim(schedule, schedule["next_run_at"])  # claimed, then the beat died
    assert run is not None
    later = schedule["next_run_at"] + timedelta(minutes=5)
    assert fire_due(loaded_db, redis, celery, settings, later) == 1
    assert [j["_id"] for j in _jobs_of(loaded_db, schedule["_id"])] == [run["_id"]]
    assert repo.find_run(run["_id"])["outcome"] == "submitted"


def test_a_paused_schedule_fires_nothing_and_resumes_from_the_next_slot(
    loaded_db, redis, celery, settings
) -> None:
    schedule = _create(loaded_db)
    update_schedule(loaded_db, schedule["_id"], SchedulePatch(paused=True))
    assert fire_due(loaded_db, redis, celery, settings, schedule["next_run_at"]) == 0
    loaded_db.schedules.update_one(
        {"_id": schedule["_id"]}, {"$set": {"next_run_at": datetime(2020, 1, 1, tzinfo=UTC)}}
    )
    resumed = update_schedule(loaded_db, schedule["_id"], SchedulePatch(paused=False))
    assert resumed["next_run_at"] > datetime.now(UTC)  # no burst of what the pause skipped
    moved = update_schedule(loaded_db, schedule["_id"], SchedulePatch(cron="30 * * * *"))
    assert moved["next_run_at"].minute == 30 and moved["cron"] == "30 * * * *"


BAD_SEARCH = {"dataset": "iris", "algorithm": "knn", "strategy": "grid",
              "space": {"n_neighbors": [0]}}  # fmt: skip
BAD_FIELDS = [
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "* * *"}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"job": {**TRAIN, "hyperparameters": {"n_neighbors": 0}}}, "job.hyperparameters"),
    ({"job": {**TRAIN, "dataset": "nope"}}, None),
    ({"job": {**TRAIN, "colour": "red"}}, "job.colour"),
    ({"promote": {"alias": "champion", "metric": "r2"}}, "promote.metric"),
    ({"job": BAD_SEARCH}, "job.space.n_neighbors"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_FIELDS)
def test_the_cron_and_the_job_are_validated_at_creation(loaded_db, fields, field) -> None:
    with pytest.raises((ValidationError, Exception)) as raised:
        _create(loaded_db, **fields)
    error = raised.value
    assert getattr(error, "http_status", None) in (400, 404), error
    if field is not None:
        assert error.details["field"].startswith(field), error.details
    assert loaded_db.schedules.count_documents({}) == 0


def test_names_are_unique_and_protected_aliases_need_an_admin(loaded_db) -> None:
    _create(loaded_db)
    with pytest.raises(ConflictError):
        _create(loaded_db)
    trainer = Principal("t", "trainer", frozenset({"train"}))
    body = ScheduleRequest(name="other", cron="0 3 * * *", job=TRAIN,
                           promote={"alias": "champion", "metric": "f1_macro"})  # fmt: skip
    with pytest.raises(Exception, match="protected alias"):
        create_schedule(loaded_db, body, trainer, SETTINGS)


def test_a_search_schedule_fires_a_search_whose_trials_carry_the_schedule(
    loaded_db, redis, celery, settings
) -> None:
    search = {"dataset": "iris", "algorithm": "knn", "model_name": "iris_search_nightly",
              "strategy": "grid", "space": {"n_neighbors": [1, 5]}, "cv": 3}  # fmt: skip
    schedule = _create(loaded_db, job=search)
    assert schedule["kind"] == "search"
    assert fire_due(loaded_db, redis, celery, settings, schedule["next_run_at"]) == 1
    (found,) = loaded_db.searches.find({"schedule_id": schedule["_id"]})
    trials = _jobs_of(loaded_db, schedule["_id"])
    assert len(trials) == 2 and {t["search_id"] for t in trials} == {found["_id"]}


def _fire_and_run(db, redis, celery, settings, run_job, schedule) -> dict:
    at = ScheduleRepository(db).get(schedule["_id"])["next_run_at"]
    assert fire_due(db, redis, celery, settings, at) == 1
    job = db.jobs.find_one({"schedule_id": schedule["_id"], "scheduled_for": at})
    run_job(job["_id"])
    return db.jobs.find_one({"_id": job["_id"]})


def test_the_promotion_rule_moves_the_alias_only_past_its_gate_and_says_why(
    loaded_db, redis, celery, settings, run_job
) -> None:
    rule = {"alias": "champion", "metric": "f1_macro", "min_delta": 0.0}
    schedule = _create(loaded_db, promote=rule)
    first = _fire_and_run(loaded_db, redis, celery, settings, run_job, schedule)
    assert first["status"] == "succeeded"
    assert decide_promotions(loaded_db) == 1 and decide_promotions(loaded_db) == 0  # once
    champion = AliasRepository(loaded_db).find("iris_nightly", "champion")
    assert champion["version"] == 1
    # the incumbent is made unbeatable: the next version is kept out, and that is recorded
    loaded_db.models.update_one({"_id": champion["model_id"]}, {"$set": {"metrics.f1_macro": 2.0}})
    _fire_and_run(loaded_db, redis, celery, settings, run_job, schedule)
    assert decide_promotions(loaded_db) == 1
    assert AliasRepository(loaded_db).find("iris_nightly", "champion")["version"] == 1
    events = list(loaded_db.alias_history.find({"name": "iris_nightly"}).sort("at", 1))
    assert [e.get("declined_version") for e in events] == [None, 2]
    assert "held no version" in events[0]["reason"] and "the gate needs" in events[1]["reason"]
    runs = ScheduleRepository(loaded_db).recent_runs(schedule["_id"])
    assert [r["promotion"]["decision"] for r in runs] == ["kept", "moved"]


def test_an_alias_moved_by_hand_is_the_incumbent_the_rule_compares_with(
    loaded_db, redis, celery, settings, run_job
) -> None:
    schedule = _create(loaded_db, promote={"alias": "staging", "metric": "f1_macro"})
    done = _fire_and_run(loaded_db, redis, celery, settings, run_job, schedule)
    move_alias(loaded_db, "iris_nightly", "staging", AliasMove(version=1), ADMIN, frozenset())
    assert decide_promotions(loaded_db) == 1  # v1 against itself: equal passes a 0 delta
    (run,) = ScheduleRepository(loaded_db).recent_runs(schedule["_id"])
    assert run["promotion"]["decision"] == "moved" and run["job_id"] == done["_id"]


def test_a_drift_trigger_skips_the_firing_while_the_inputs_have_not_drifted(
    loaded_db, redis, celery, settings, run_job
) -> None:
    schedule = _create(loaded_db, trigger="drift")
    at = schedule["next_run_at"]
    assert fire_due(loaded_db, redis, celery, settings, at) == 0  # no model yet: no check
    (run,) = ScheduleRepository(loaded_db).recent_runs(schedule["_id"])
    assert run["outcome"] == "skipped" and "no drift check of iris_nightly@latest" in run["reason"]
    assert _jobs_of(loaded_db, schedule["_id"]) == []
