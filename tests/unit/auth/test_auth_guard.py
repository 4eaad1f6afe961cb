"""Deny by default: every route outside the allowlist needs a key with its scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.auth.guard import PUBLIC_ENDPOINTS, required_scope
from tests.unit.auth.conftest import bearer


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = re.sub(r"<(?:\w+:)?(\w+)>", "x", rule.rule)
            yield rule.endpoint, method, path


def test_every_route_outside_the_allowlist_refuses_a_request_without_a_key(app, anonymous):
    checked = 0
    for endpoint, method, path in _routes(app):
        with anonymous.open(path, method=method) as response:
            response.get_data()
        if endpoint in PUBLIC_ENDPOINTS:
            assert response.status_code != 401, (method, path)
        else:
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.json["error"]["code"] == "unauthorized"
            checked += 1
    assert checked >= 20


def test_the_allowlist_is_health_readiness_metrics_and_docs(anonymous) -> None:
    for path in ("/health", "/ready", "/metrics", "/api/v1/docs/openapi.json"):
        assert anonymous.get(path).status_code == 200, path
    assert anonymous.get("/api/v1/docs/swagger/").status_code == 200
    with anonymous.get("/api/v1/docs/assets/swagger_bundle.js") as asset:
        assert asset.status_code == 200 and asset.mimetype == "text/javascript"


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_a_key_is_accepted_in_either_header(anonymous, make_key, header) -> None:
    key = make_key("read")["key"]
    value = f"Bearer {key}" if header == "Authorization" else key
    assert anonymous.get("/api/v1/jobs", headers={header: value}).status_code == 200


def test_a_wrong_key_is_401_and_says_so(anonymous) -> None:
    response = anonymous.get("/api/v1/jobs", headers=bearer("tf_" + "a" * 38))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "not valid" in response.json["error"]["message"]


SCOPE_CASES = [
    # (scope of the key, method, path, body, allowed)
    ("read", "GET", "/api/v1/jobs", None, True),
    ("read", "POST", "/api/v1/jobs", {"dataset": "iris", "algorithm": "knn"}, False),
    ("train", "POST", "/api/v1/jobs", {"dataset": "iris", "algorithm": "knn"}, True),
    ("train", "GET", "/api/v1/jobs", None, False),
    ("predict", "GET", "/api/v1/models", None, False),
    ("train", "DELETE", "/api/v1/models/x", None, False),
    ("read", "GET", "/api/v1/keys", None, False),
    ("train", "GET", "/api/v1/audit", None, False),
    ("admin", "GET", "/api/v1/audit", None, True),
    ("admin", "POST", "/api/v1/jobs", {"dataset": "iris", "algorithm": "knn"}, True),
]


@pytest.mark.parametrize(("scope", "method", "path", "body", "allowed"), SCOPE_CASES)
def test_each_scope_opens_only_its_routes(anonymous, make_key, scope, method, path, body, allowed):
    key = make_key(scope)["key"]
    response = anonymous.open(path, method=method, json=body, headers=bearer(key))
    if allowed:
        assert response.status_code not in (401, 403), response.json
    else:
        assert response.status_code == 403, response.json
        needed = response.json["error"]["details"]["required_scope"]
        assert needed in response.json["error"]["message"] and needed != scope


def test_scopes_come_from_each_views_declaration(app) -> None:
    with app.test_request_context():
        assert required_scope("jobs.create_job") == "train"
        assert required_scope("jobs.list_jobs") == "read"
        assert required_scope("models.delete_model") == "admin"
        assert required_scope("keys.create_key") == "admin"


def test_the_openapi_document_declares_the_bearer_scheme(anonymous) -> None:
    document = anonymous.get("/api/v1/docs/openapi.json").json
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "tf_…"}
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    assert document["paths"]["/api/v1/jobs"]["post"]["security"][0] == {"bearerAuth": ["train"]}
    assert document["paths"]["/health"]["get"]["security"] == []


def test_an_expired_key_is_refused(anonymous, make_key, loaded_db) -> None:
    created = make_key("read", expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert anonymous.get("/api/v1/jobs", headers=bearer(created["key"])).status_code == 200
    past = datetime.now(UTC) - timedelta(seconds=1)
    loaded_db.keys.update_one({"_id": created["id"]}, {"$set": {"expires_at": past}})
    assert anonymous.get("/api/v1/jobs", headers=bearer(created["key"])).status_code == 401


def test_a_revoked_key_is_refused_from_the_next_request(client, anonymous, make_key) -> None:
    created = make_key("read")
    assert anonymous.get("/api/v1/jobs", headers=bearer(created["key"])).status_code == 200
    assert client.delete(f"/api/v1/keys/{created['id']}").status_code == 204
    assert anonymous.get("/api/v1/jobs", headers=bearer(created["key"])).status_code == 401
