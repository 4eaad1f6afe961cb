"""The audit log: one record per mutating and per refused request; the request id."""

from __future__ import annotations

from tests.unit.auth.conftest import bearer


def test_each_mutating_request_writes_one_record_with_what_it_touched(client, loaded_db) -> None:
    response = client.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"})
    job_id = response.json["job_id"]
    client.post(f"/api/v1/jobs/{job_id}/cancel")
    client.get("/api/v1/jobs")  # a read: no record
    records = list(loaded_db.audit.find().sort("at", 1))
    assert [(r["method"], r["route"], r["status"]) for r in records] == [
        ("POST", "/api/v1/jobs", 202),
        ("POST", "/api/v1/jobs/<job_id>/cancel", 202),
    ]
    first = records[0]
    assert first["touched"]["job_id"] == job_id
    assert first["key_id"] == "env:TENSORFLEET_ADMIN_KEY"
    assert first["request_id"] == response.headers["X-Request-ID"]
    assert first["path"] == "/api/v1/jobs" and first["client"] == "127.0.0.1"


def test_refused_requests_are_recorded_without_any_secret(anonymous, make_key, loaded_db) -> None:
    reader = make_key("read")
    before = loaded_db.audit.count_documents({})
    anonymous.get("/api/v1/models")  # 401
    anonymous.get("/api/v1/keys", headers=bearer(reader["key"]))  # 403
    refused = list(loaded_db.audit.find().sort("at", 1))[before:]
    assert [(r["status"], r["key_id"]) for r in refused] == [(401, None), (403, reader["id"])]
    assert reader["key"] not in str(refused)


def test_the_audit_log_is_filtered_and_paginated_for_admins(client, anonymous, make_key) -> None:
    reader = make_key("read")
    anonymous.get("/api/v1/keys", headers=bearer(reader["key"]))
    page = client.get(f"/api/v1/audit?key={reader['id']}").json
    assert page["total"] == 1 and page["page"] == 1 and page["limit"] == 20
    item = page["items"][0]
    assert (item["method"], item["path"], item["status"]) == ("GET", "/api/v1/keys", 403)
    assert client.get("/api/v1/audit?status=403").json["total"] == 1
    assert client.get("/api/v1/audit?since=2999-01-01T00:00:00Z").json["total"] == 0
    assert client.get("/api/v1/audit?status=abc").status_code == 400


def test_a_request_id_is_kept_if_well_formed_and_made_otherwise(anonymous) -> None:
    assert (
        anonymous.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    made = anonymous.get("/health", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert made != "bad id!" and len(made) == 32
