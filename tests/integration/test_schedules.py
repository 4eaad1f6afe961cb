"""Scheduled retraining on the local stack, fired by its beat process: a schedule whose
slots went by while nothing ran (its ``next_run_at`` moved into the past, as after a
downtime) fires once, not once per missed slot; a second beat and a restarted beat fire
nothing more for that slot; the job succeeds and the promotion rule moves ``@champion``,
with its reason in the alias history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.config import Settings
from app.services.schedules import fire_due, latest_slot
from app.storage.mongo import get_database
from app.storage.redis import get_redis
from app.tasks.celery_app import create_celery
from localstack import LocalStack
from tests.integration.helpers import mongo, poll, unique, wait_job

CRON = "0 3 * * *"  # daily: no new slot comes while the test runs


def _runs(api: Any, schedule_id: str) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/schedules/{schedule_id}").json()["runs"]


@pytest.mark.usefixtures("in_process_clients")
def test_a_schedule_fires_once_after_downtime_and_promotes_its_model(
    stack: LocalStack, api: Any
) -> None:
    name = unique("nightly")
    body = {"name": name, "cron": CRON, "timezone": "UTC",
            "job": {"dataset": "iris", "algorithm": "decision_tree", "model_name": name},
            "promote": {"alias": "champion", "metric": "f1_macro", "min_delta": 0.0}}  # fmt: skip
    made = api.post("/api/v1/schedules", json=body)
    assert made.status_code == 201, made.text
    schedule_id = made.json()["schedule_id"]
    slot = latest_slot(CRON, ZoneInfo("UTC"), datetime.now(UTC))
    missed = slot - timedelta(days=2)  # three slots went by while nothing ran
    with mongo(stack) as db:
        db.schedules.update_one({"_id": schedule_id}, {"$set": {"next_run_at": missed}})

    def settled() -> list[dict[str, Any]]:
        return [r for r in _runs(api, schedule_id) if r["outcome"] != "firing"]

    (run,) = poll(settled, 30, what="beat firing the schedule")
    assert run["outcome"] == "submitted" and run["run_id"] == run["job_id"], run
    job = wait_job(api, run["job_id"], 120)
    assert job["status"] == "succeeded" and job["schedule_id"] == schedule_id
    assert job["scheduled_for"].startswith(slot.strftime("%Y-%m-%dT%H:%M"))  # the latest only

    # a second beat that still sees the old next_run_at, then a restarted beat
    settings = Settings(mongodb_url=stack.mongodb_url, mongodb_db=stack.config.mongodb_db,
                        redis_url=stack.redis_url,
                        artifact_signing_key=stack.artifact_signing_key)  # fmt: skip
    db, redis_client = get_database(settings), get_redis(settings)
    db.schedules.update_one({"_id": schedule_id}, {"$set": {"next_run_at": missed}})
    celery = create_celery(settings)
    assert fire_due(db, redis_client, celery, settings) == 0
    stack.children["beat"].popen.terminate()
    stack.children["beat"].popen.wait(30)
    beat = stack.restart("beat")
    poll(lambda: " ready." in beat.log_since_start(), 60, what="beat ready again")
    db.schedules.update_one({"_id": schedule_id}, {"$set": {"next_run_at": missed}})
    poll(
        lambda: db.schedules.find_one({"_id": schedule_id})["next_run_at"] != missed,
        30,
        what="the restarted beat's tick",
    )
    assert len(_runs(api, schedule_id)) == 1
    assert db.jobs.count_documents({"schedule_id": schedule_id}) == 1

    decided = poll(
        lambda: (r := _runs(api, schedule_id)[0])["promotion"] and r, 30, what="promotion"
    )
    assert decided["promotion"]["decision"] == "moved", decided
    alias = api.get(f"/api/v1/models/{name}/aliases").json()["items"][0]
    assert (alias["alias"], alias["version"]) == ("champion", 1)
    history = api.get(f"/api/v1/models/{name}/aliases?history=true").json()["items"]
    assert name in history[0]["reason"] and "held no version" in history[0]["reason"]
    assert api.delete(f"/api/v1/schedules/{schedule_id}").status_code == 204
