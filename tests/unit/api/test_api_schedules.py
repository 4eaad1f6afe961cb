"""/api/v1/schedules on mongomock: create (validated whole), list, one with its runs,
pause and resume, delete; bad input is a 400 naming the field and stores nothing."""

from __future__ import annotations

BODY = {"name": "nightly-iris", "cron": "0 3 * * *", "timezone": "UTC",
        "job": {"dataset": "iris", "algorithm": "knn"},
        "promote": {"alias": "champion", "metric": "f1_macro", "min_delta": 0.0}}  # fmt: skip


def test_a_schedule_is_created_listed_paused_and_deleted(client) -> None:
    made = client.post("/api/v1/schedules", json=BODY)
    assert made.status_code == 201, made.json
    schedule = made.json
    assert made.headers["Location"] == f"/api/v1/schedules/{schedule['schedule_id']}"
    assert schedule["next_run_at"].endswith("03:00:00Z") or "T03:00:00" in schedule["next_run_at"]
    assert (schedule["kind"], schedule["trigger"], schedule["paused"]) == ("train", "always", False)
    one = client.get(f"/api/v1/schedules/{schedule['schedule_id']}").json
    assert one["runs"] == [] and one["promote"]["alias"] == "champion"
    assert client.get("/api/v1/schedules").json["total"] == 1
    paused = client.patch(f"/api/v1/schedules/{schedule['schedule_id']}", json={"paused": True})
    assert paused.status_code == 200 and paused.json["paused"] is True
    assert client.get("/api/v1/schedules?paused=false").json["total"] == 0
    assert client.post("/api/v1/schedules", json=BODY).status_code == 409  # the name is taken
    assert client.delete(f"/api/v1/schedules/{schedule['schedule_id']}").status_code == 204
    assert client.get(f"/api/v1/schedules/{schedule['schedule_id']}").status_code == 404


def test_bad_schedules_are_400_naming_the_field(client, loaded_db) -> None:
    cases = {
        "cron": {**BODY, "cron": "every night"},
        "timezone": {**BODY, "timezone": "Nowhere/Land"},
        "job.hyperparameters": {**BODY, "job": {**BODY["job"], "hyperparameters": {"p": -1}}},
        "promote.metric": {**BODY, "promote": {"alias": "champion", "metric": "r2"}},
        "trigger": {**BODY, "trigger": "sometimes"},
    }
    for field, body in cases.items():
        response = client.post("/api/v1/schedules", json=body)
        assert response.status_code == 400, (field, response.json)
        error = response.json["error"]
        assert field in (error["details"].get("field") or str(error["details"])), (field, error)
    assert client.patch("/api/v1/schedules/nope", json={"paused": True}).status_code == 404
    assert client.patch("/api/v1/schedules/nope", json={"colour": 1}).status_code == 400
    assert loaded_db.schedules.count_documents({}) == 0


def test_schedules_need_a_key_with_train_to_change(anonymous) -> None:
    assert anonymous.post("/api/v1/schedules", json=BODY).status_code == 401
