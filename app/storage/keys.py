"""The ``keys`` collection: API keys, stored only as a SHA-256 hash of the secret.

A key is found by its hash (unique index), never by the secret itself; revoking
sets ``revoked_at``, so audit records keep naming the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database

from app.errors import NotFoundError
from app.storage.mongo import utcnow
from app.storage.pagination import Page, find_page


def new_key_document(
    name: str, scopes: list[str], expires_at: datetime | None, secret_hash: str, created_by: str
) -> dict[str, Any]:
    """A new key's document (``hash`` is the SHA-256 hex digest of its secret)."""
    return {
        "_id": f"key_{ObjectId()}",
        "name": name,
        "scopes": scopes,
        "hash": secret_hash,
        "created_at": utcnow(),
        "expires_at": expires_at,
        "revoked_at": None,
        "created_by": created_by,
    }


def public_key(doc: dict[str, Any]) -> dict[str, Any]:
    """A key as the API shows it: never the secret or its hash."""
    fields = ("name", "scopes", "created_at", "expires_at", "revoked_at", "created_by")
    return {"id": doc["_id"], **{field: doc.get(field) for field in fields}}


class KeyRepository:
    """API key documents."""

    def __init__(self, db: Database) -> None:
        self._keys = db.keys

    def insert(self, doc: dict[str, Any]) -> None:
        """Store a new key."""
        self._keys.insert_one(doc)

    def find_by_hash(self, secret_hash: str) -> dict[str, Any] | None:
        """The key whose secret hashes to ``secret_hash``, revoked or not."""
        return self._keys.find_one({"hash": secret_hash})

    def list(self, include_revoked: bool, page: int, limit: int) -> Page:
        """Keys, newest first (revoked ones only if asked)."""
        # ``$eq`` spelled out: the same match as ``{"revoked_at": None}`` in MongoDB, which
        # nx-27017's count (``$match`` then ``$group``) gets wrong (0).
        query: dict[str, Any] = {} if include_revoked else {"revoked_at": {"$eq": None}}
        return find_page(self._keys, query, [("created_at", -1), ("_id", -1)], page, limit)

    def revoke(self, key_id: str) -> dict[str, Any]:
        """Mark a key revoked now (idempotent); NotFoundError if there is none."""
        doc = self._keys.find_one_and_update(
            {"_id": key_id, "revoked_at": None},
            {"$set": {"revoked_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = self._keys.find_one({"_id": key_id})
        if doc is None:
            raise NotFoundError(f"Key '{key_id}' not found.", {"key_id": key_id})
        return doc

    def find(self, key_id: str) -> dict[str, Any] | None:
        """The key's document, or None."""
        return self._keys.find_one({"_id": key_id})

    def get(self, key_id: str) -> dict[str, Any]:
        """The key's document; NotFoundError if there is none."""
        doc = self._keys.find_one({"_id": key_id})
        if doc is None:
            raise NotFoundError(f"Key '{key_id}' not found.", {"key_id": key_id})
        return doc
