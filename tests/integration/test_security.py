"""The trust boundary on the real stack: keys and scopes on every route, expiry and
revocation, the audit log, rate limits, signed files, idempotent submits.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from app import create_app
from app.auth.guard import PUBLIC_ENDPOINTS
from app.errors import IntegrityError
from app.serving.loader import load_verified_model
from app.storage.signing import Signer
from localstack import LocalStack
from tensorfleet import APIError, TensorFleetClient
from tests.integration.helpers import (
    api_client,
    auth_headers,
    mongo,
    submit,
    submit_and_wait,
    unique,
    upload_dataset,
    wait_job,
)

TOY = b"x1,x2,label\n" + b"".join(f"{i},{i % 7},{i % 2}\n".encode() for i in range(60))


def overwrite_chunk(db: Any, file_id: Any, n: int, data: bytes) -> None:
    """Replace chunk ``n`` of a GridFS file, as an attacker with database access would.

    Rewrites all the file's chunks (delete by ``files_id``, insert again): the local
    MongoDB-compatible server matches fs.chunks updates only by ``files_id``.
    """
    chunks = list(db["fs.chunks"].find({"files_id": file_id}))
    db["fs.chunks"].delete_many({"files_id": file_id})
    for chunk in chunks:
        chunk.pop("_id", None)
        if chunk["n"] == n:
            chunk["data"] = data
    db["fs.chunks"].insert_many(chunks)


def _key(api: Any, *scopes: str, **fields: Any) -> dict[str, Any]:
    body = {"name": unique("key"), "scopes": list(scopes), **fields}
    response = api.post("/api/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _routes() -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, path) of every route of the service, from its own url_map."""
    settings = {"artifact_signing_key": "s" * 32, "mongodb_url": "mongodb://127.0.0.1:1"}
    app = create_app(settings)
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, re.sub(r"<(?:\w+:)?(\w+)>", "x", rule.rule)


def test_every_route_but_the_allowlist_refuses_requests_without_a_key(stack: LocalStack) -> None:
    refused = ui_refused = 0
    for endpoint, method, path in _routes():
        url = stack.api_url + path
        response = requests.request(method, url, timeout=30, allow_redirects=False)
        if endpoint in PUBLIC_ENDPOINTS:
            assert response.status_code != 401, (method, path)
            continue
        if endpoint.startswith("web."):  # the UI: a browser is sent to log in, not served
            assert response.status_code in (302, 303), (method, path, response.status_code)
            assert response.headers["Location"].startswith("/ui/login"), (method, path)
            response = requests.request(
                method,
                url,
                timeout=30,
                allow_redirects=False,
                headers={"Accept": "application/json"},
            )  # a script that takes no HTML: the API's 401
            ui_refused += 1
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"
        refused += 1
    assert refused >= 20 and ui_refused >= 15


ROUTE_KINDS = [
    # (kind, method, path, request kwargs) — the scope each needs is the matrix below
    ("read", "GET", "/api/v1/models", {}),
    ("submit", "POST", "/api/v1/jobs", {"json": {"dataset": "iris", "algorithm": "knn"}}),
    ("upload", "POST", "/api/v1/datasets", {}),
    ("delete", "DELETE", "/api/v1/models/no-such-model", {}),
    ("keys", "GET", "/api/v1/keys", {}),
    ("audit", "GET", "/api/v1/audit", {}),
]
ALLOWED = {
    "read": {"read", "admin"},
    "submit": {"train", "admin"},
    "upload": {"train", "admin"},
    "delete": {"admin"},
    "keys": {"admin"},
    "audit": {"admin"},
}


@pytest.fixture(scope="module")
def scoped_keys(stack: LocalStack) -> dict[str, str]:
    with api_client(stack) as api:
        return {scope: _key(api, scope)["key"] for scope in ("read", "train", "predict", "admin")}


@pytest.mark.parametrize("scope", ["read", "train", "predict", "admin"])
def test_each_scope_opens_exactly_its_kinds_of_route(stack, scoped_keys, scope) -> None:
    with api_client(stack, scoped_keys[scope]) as api:
        for kind, method, path, kwargs in ROUTE_KINDS:
            if kind == "upload":
                response = upload_dataset(api, unique("scoped"), TOY, "label")
            else:
                response = api.request(method, path, **kwargs)
            if scope in ALLOWED[kind]:
                assert response.status_code not in (401, 403), (scope, kind, response.text)
            else:
                assert response.status_code == 403, (scope, kind, response.text)
                assert response.json()["error"]["details"]["required_scope"] in ALLOWED[kind]


def test_a_key_expires_and_a_revoked_key_is_refused_at_once(stack: LocalStack, api) -> None:
    expires = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    short = _key(api, "read", expires_at=expires)
    with api_client(stack, short["key"]) as reader:
        assert reader.get("/api/v1/jobs").status_code == 200
        time.sleep(2.5)
        assert reader.get("/api/v1/jobs").status_code == 401
    revoked = _key(api, "read")
    with api_client(stack, revoked["key"]) as reader:
        assert reader.get("/api/v1/jobs").status_code == 200
        assert api.delete(f"/api/v1/keys/{revoked['id']}").status_code == 204
        assert reader.get("/api/v1/jobs").status_code == 401
        assert reader.get("/api/v1/jobs", headers={"X-API-Key": revoked["key"]}).status_code == 401


def test_one_audit_record_per_mutating_and_per_refused_call(stack: LocalStack, api) -> None:
    trainer = _key(api, "read", "train")
    with api_client(stack, trainer["key"]) as client:
        job = submit(client, dataset="iris", algorithm="knn")  # mutating: recorded
        client.post(f"/api/v1/jobs/{job['job_id']}/cancel")  # mutating (202 or 409)
        client.get("/api/v1/jobs")  # a read: not recorded
        client.get("/api/v1/keys")  # refused 403: recorded
        client.delete("/api/v1/models/nope")  # mutating and refused: one record
    records = api.get("/api/v1/audit", params={"key": trainer["id"], "limit": 100}).json()
    calls = sorted((r["method"], r["route"], r["status"]) for r in records["items"])
    assert records["total"] == 4, calls
    assert ("GET", "/api/v1/keys", 403) in calls and (
        "DELETE",
        "/api/v1/models/<ref>",
        403,
    ) in calls
    created = next(r for r in records["items"] if r["route"] == "/api/v1/jobs")
    assert created["touched"]["job_id"] == job["job_id"] and created["key_name"] == trainer["name"]
    assert trainer["key"] not in str(records)
    anonymous = requests.get(stack.api_url + "/api/v1/jobs", timeout=10)
    request_id = anonymous.headers["X-Request-ID"]
    refused = api.get("/api/v1/audit", params={"status": 401, "limit": 100}).json()["items"]
    assert [r["request_id"] for r in refused].count(request_id) == 1


@pytest.fixture
def limited_api(stack: LocalStack, make_stack_config, tmp_path: Path) -> Iterator[LocalStack]:
    """A second API on the same Redis and MongoDB with a write limit of 2 a minute."""
    config = make_stack_config(
        tmp_path,
        services=("api",),
        redis_url=stack.redis_url,
        mongodb_url=stack.mongodb_url,
        mongodb_db=stack.config.mongodb_db,
        artifact_signing_key=stack.artifact_signing_key,
        env={"RATE_LIMIT_WRITES": "2/minute", "RATE_LIMIT_READS": "1000/minute"},
    )
    with LocalStack(config) as side:
        yield side


def test_the_third_write_in_a_minute_is_429_with_retry_after(limited_api, api) -> None:
    key = _key(api, "train", "read")
    with api_client(limited_api, key["key"]) as client:
        body = {"dataset": "nope", "algorithm": "knn"}  # 404s count too: no jobs queued
        statuses = [client.post("/api/v1/jobs", json=body).status_code for _ in range(3)]
        refused = client.post("/api/v1/jobs", json=body)
        assert client.get("/api/v1/jobs").status_code == 200  # reads have their own budget
    assert statuses == [404, 404, 429]
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    audit = api.get("/api/v1/audit", params={"key": key["id"], "status": 429}).json()
    assert audit["total"] == 2


@pytest.mark.usefixtures("in_process_clients")
def test_with_redis_unreachable_the_limiter_does_not_fail_requests(stack: LocalStack) -> None:
    settings = {
        "mongodb_url": stack.mongodb_url,
        "mongodb_db": stack.config.mongodb_db,
        "redis_url": "redis://127.0.0.1:1/0",
        "service_timeout_ms": 300,
        "tensorfleet_admin_key": stack.admin_key,
        "artifact_signing_key": stack.artifact_signing_key,
    }
    client = create_app(settings).test_client()
    started = time.monotonic()
    statuses = [
        client.get("/api/v1/algorithms", headers=auth_headers(stack.admin_key)).status_code
        for _ in range(5)
    ]
    assert statuses == [200] * 5
    assert time.monotonic() - started < 5


class Marker:
    """A pickle that, if ever unpickled, creates a file: the attacker's payload."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


def test_a_model_file_overwritten_in_gridfs_is_never_served_or_loaded(
    stack: LocalStack, api, tmp_path: Path
) -> None:
    job = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=unique("victim"))
    model_id = job["result"]["model_id"]
    marker = tmp_path / "pwned"
    with mongo(stack) as db:
        model = db.models.find_one({"_id": model_id})
        overwrite_chunk(db, model["file_id"], 0, pickle.dumps(Marker(marker)))
        response = api.get(f"/api/v1/models/{model_id}/download")
        assert response.status_code == 409, response.text[:200]
        assert response.json()["error"]["code"] == "integrity_error"
        client = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
        with pytest.raises(APIError) as refused:
            client.download_model(model_id, tmp_path / "m.joblib")
        assert refused.value.status == 409 and not (tmp_path / "m.joblib").exists()
        signer = Signer(stack.artifact_signing_key.encode())
        with pytest.raises(IntegrityError):
            load_verified_model(db, signer, db.models.find_one({"_id": model_id}))
        assert db.models.find_one({"_id": model_id})["quarantined"]
    assert not marker.exists()
    listed = api.get("/api/v1/audit", params={"limit": 100}).json()["items"]
    assert any(
        r.get("event") == "integrity_failure" and r["touched"]["model"] == model_id for r in listed
    )


def test_a_dataset_changed_in_gridfs_is_not_trained_on(stack: LocalStack, api) -> None:
    name = unique("tampered")
    content = TOY + f"{int(name[-10:], 16)},3,1\n".encode()  # unique bytes: no cached copy
    dataset = upload_dataset(api, name, content, "label").json()
    with mongo(stack) as db:
        doc = db.datasets.find_one({"name": name})
        relabelled = content.replace(b",0\n", b",7\n")
        overwrite_chunk(db, doc["file_id"], 0, relabelled)
    job = wait_job(api, submit(api, dataset=name, algorithm="knn")["job_id"])
    assert job["status"] == "failed" and job["error"]["type"] == "integrity", job
    again = api.post("/api/v1/jobs", json={"dataset": name, "algorithm": "knn"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "integrity_error"
    assert dataset["version"] == 1


def test_ten_concurrent_submits_with_one_idempotency_key_make_one_job(stack, api) -> None:
    name = unique("idem")
    key = unique("idem-key")
    body = {"dataset": "iris", "algorithm": "knn", "model_name": name}

    def post(_: int) -> requests.Response:
        with api_client(stack) as client:
            return client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(10)))
    assert {a.status_code for a in answers} <= {202, 409}
    ids = {a.json()["job_id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1
    listed = api.get("/api/v1/jobs", params={"model_name": name}).json()
    assert listed["total"] == 1
    wait_job(api, ids.pop())


def test_the_client_sends_an_idempotency_key_and_checks_downloads(stack, tmp_path) -> None:
    client = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
    sent: list[dict[str, str]] = []
    client.session.hooks["response"].append(lambda r, *a, **k: sent.append(dict(r.request.headers)))
    job = client.wait(client.submit_job("iris", "knn", model_name=unique("client"))["job_id"])
    assert "Idempotency-Key" in sent[0]
    model = client._call("GET", f"/models/{job['result']['model_id']}").json()
    path = client.download_model(model["model_id"], tmp_path / "ok.joblib")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model["sha256"]


def test_the_key_list_counts_what_it_lists_and_hides_revoked_keys(api) -> None:
    kept, revoked = _key(api, "read"), _key(api, "read")
    assert api.delete(f"/api/v1/keys/{revoked['id']}").status_code == 204
    listed = api.get("/api/v1/keys", params={"limit": 100}).json()
    ids = {item["id"] for item in listed["items"]}
    assert kept["id"] in ids and revoked["id"] not in ids
    assert listed["total"] == len(listed["items"]) and not any("key" in i for i in listed["items"])
    everything = api.get("/api/v1/keys", params={"limit": 100, "include_revoked": "true"}).json()
    assert revoked["id"] in {item["id"] for item in everything["items"]}
    assert everything["total"] == len(everything["items"]) > listed["total"]
