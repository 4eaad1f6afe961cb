"""API keys: their format, scopes, creation, revocation and the check of a presented key.

A key looks like ``tf_`` + 32 random base62 characters + a 6-character CRC32
checksum (GitHub's token format: secret scanners find the prefix, and a typo is
refused without a database lookup). It is shown once, when created; only its
SHA-256 hash is stored. Hashes are compared in constant time.

Scopes: ``read`` (every GET), ``train`` (submit and cancel jobs, upload
datasets), ``predict`` (prediction endpoints), ``admin`` (everything, including
deletes, key management and the audit log).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymongo.database import Database

from app.config import Settings
from app.errors import ValidationError
from app.storage.keys import KeyRepository, new_key_document

SCOPES = ("read", "train", "predict", "admin")
PREFIX = "tf_"
_ALPHABET = string.digits + string.ascii_letters
_BODY, _CHECK = 32, 6
ENV_ADMIN = "env:TENSORFLEET_ADMIN_KEY"  # the id audit records give the bootstrap key


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a key's id, name and scopes."""

    key_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether this key may use ``scope`` (``admin`` may use every scope)."""
        return scope in self.scopes or "admin" in self.scopes


class KeyRequest(BaseModel):
    """Body of ``POST /api/v1/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$", examples=["ci-trainer"])
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES), examples=[["read", "train"]])
    expires_at: datetime | None = Field(None, description="Default: never expires.")

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {', '.join(SCOPES)}")
        return [scope for scope in SCOPES if scope in scopes]


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK)


def generate_secret() -> str:
    """A new random key: ``tf_`` + 32 base62 characters (~190 bits) + a checksum."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY))
    return PREFIX + body + _checksum(body)


def well_formed(secret: str) -> bool:
    """Whether ``secret`` has the key format and a matching checksum (no lookup needed)."""
    if len(secret) != len(PREFIX) + _BODY + _CHECK or not secret.startswith(PREFIX):
        return False
    body, check = secret[len(PREFIX) : -_CHECK], secret[-_CHECK:]
    return hmac.compare_digest(_checksum(body), check)


def secret_hash(secret: str) -> str:
    """How a key is stored: the SHA-256 hex digest (keys are high-entropy: no salt needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Database, request: KeyRequest, created_by: str) -> tuple[dict[str, Any], str]:
    """Store a new key; returns its document and the secret (shown this once)."""
    if request.expires_at is not None and _aware(request.expires_at) <= datetime.now(UTC):
        raise ValidationError("expires_at is in the past.", {"field": "expires_at"})
    secret = generate_secret()
    expires = _aware(request.expires_at) if request.expires_at else None
    doc = new_key_document(request.name, request.scopes, expires, secret_hash(secret), created_by)
    KeyRepository(db).insert(doc)
    return doc, secret


def authenticate(db: Database, settings: Settings, secret: str) -> Principal | None:
    """The principal of a presented key, or None if it is unknown, revoked or expired."""
    env_key = settings.tensorfleet_admin_key
    if env_key is not None and hmac.compare_digest(
        secret_hash(secret), secret_hash(env_key.get_secret_value())
    ):
        return Principal(ENV_ADMIN, "TENSORFLEET_ADMIN_KEY", frozenset({"admin"}))
    if not well_formed(secret):
        return None
    doc = KeyRepository(db).find_by_hash(secret_hash(secret))
    if doc is None or not hmac.compare_digest(doc["hash"], secret_hash(secret)):
        return None
    if doc["revoked_at"] is not None:
        return None
    if doc["expires_at"] is not None and _aware(doc["expires_at"]) <= datetime.now(UTC):
        return None
    return Principal(doc["_id"], doc["name"], frozenset(doc["scopes"]))


def still_valid(db: Database, settings: Settings, key_id: str) -> tuple[Principal, str] | None:
    """Key ``key_id``'s principal and stored hash if it is still valid (neither revoked nor
    expired), else None: how a UI session, which keeps no secret, re-checks its key."""
    if key_id == ENV_ADMIN:
        env_key = settings.tensorfleet_admin_key
        if env_key is None:
            return None
        principal = Principal(ENV_ADMIN, "TENSORFLEET_ADMIN_KEY", frozenset({"admin"}))
        return principal, secret_hash(env_key.get_secret_value())
    doc = KeyRepository(db).find(key_id)
    if doc is None or doc["revoked_at"] is not None:
        return None
    if doc["expires_at"] is not None and _aware(doc["expires_at"]) <= datetime.now(UTC):
        return None
    return Principal(doc["_id"], doc["name"], frozenset(doc["scopes"])), doc["hash"]


def _aware(moment: datetime) -> datetime:
    """``moment`` with a time zone (naive datetimes are UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
