"""API keys: create (the secret is shown once), list, show and revoke. Admin only."""

from __future__ import annotations

from flask import Blueprint, url_for
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ApiKey, ApiKeyCreated, ErrorBody, KeyListQuery, KeyRequest
from app.api.spec import scope, spec
from app.services import keys as key_service
from app.storage.keys import KeyRepository, public_key

bp = Blueprint("keys", __name__)
ADMIN = scope("admin")


@bp.post("")
@spec.validate(
    json=KeyRequest,
    resp=Spec(HTTP_201=ApiKeyCreated, HTTP_400=ErrorBody),
    tags=["keys"],
    security=ADMIN,
)
def create_key() -> tuple[dict, int, dict]:
    """Create a key: `{"name": "ci", "scopes": ["read", "train"], "expires_at": null}` → 201
    with `key`, the secret: it is shown this once and stored only as a hash."""
    who = context.principal()
    created_by = who.key_id if who else "unknown"
    doc, secret = key_service.create_key(context.db(), context.parsed().json, created_by)
    location = url_for("keys.get_key", key_id=doc["_id"])
    return {**public_key(doc), "key": secret}, 201, {"Location": location}


@bp.get("")
@spec.validate(query=KeyListQuery, tags=["keys"], security=ADMIN)
def list_keys() -> dict:
    """Keys, newest first (`?include_revoked=true` for revoked ones too); never secrets."""
    query = context.parsed().query
    page = KeyRepository(context.db()).list(query.include_revoked, query.page, query.limit)
    return page.as_json(public_key)


@bp.get("/<key_id>")
@spec.validate(resp=Spec(HTTP_200=ApiKey, HTTP_404=ErrorBody), tags=["keys"], security=ADMIN)
def get_key(key_id: str) -> dict:
    """One key's metadata."""
    return public_key(KeyRepository(context.db()).get(key_id))


@bp.delete("/<key_id>")
@spec.validate(resp=Spec(HTTP_204=None, HTTP_404=ErrorBody), tags=["keys"], security=ADMIN)
def revoke_key(key_id: str) -> tuple[str, int]:
    """Revoke a key: from the next request on it is refused (401)."""
    KeyRepository(context.db()).revoke(key_id)
    return "", 204
