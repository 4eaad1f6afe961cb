"""API keys: the format, shown once, stored as a hash, listed without secrets."""

from __future__ import annotations

import hashlib

import pytest

from app.services.keys import generate_secret, well_formed


def test_secrets_are_prefixed_random_and_checksummed() -> None:
    keys = {generate_secret() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert key.startswith("tf_") and len(key) == 41 and well_formed(key)
    key = next(iter(keys))
    typo = key[:-7] + ("a" if key[-7] != "a" else "b") + key[-6:]
    assert not well_formed(typo)


def test_a_key_is_shown_once_and_stored_only_as_a_hash(client, make_key, loaded_db) -> None:
    created = make_key("read", "train", name="ci")
    assert set(created) == {
        "id",
        "name",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "created_by",
        "key",
    }
    assert created["scopes"] == ["read", "train"] and created["created_by"].startswith("env:")
    stored = loaded_db.keys.find_one({"_id": created["id"]})
    assert created["key"] not in str(stored)
    assert stored["hash"] == hashlib.sha256(created["key"].encode()).hexdigest()
    listed = client.get("/api/v1/keys").json["items"]
    assert created["id"] in [k["id"] for k in listed]
    assert all("key" not in k and "hash" not in k for k in listed)
    assert "key" not in client.get(f"/api/v1/keys/{created['id']}").json


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["read"], "colour": "blue"},
    ],
)
def test_bad_key_requests_are_400_and_store_nothing(client, loaded_db, body) -> None:
    response = client.post("/api/v1/keys", json=body)
    assert response.status_code == 400, response.json
    assert loaded_db.keys.count_documents({}) == 0


def test_revoked_keys_are_listed_only_on_request(client, make_key) -> None:
    created = make_key("read")
    client.delete(f"/api/v1/keys/{created['id']}")
    assert created["id"] not in [k["id"] for k in client.get("/api/v1/keys").json["items"]]
    everything = client.get("/api/v1/keys?include_revoked=true").json["items"]
    assert [k["revoked_at"] is not None for k in everything if k["id"] == created["id"]] == [True]
    assert client.delete("/api/v1/keys/key_nope").status_code == 404
