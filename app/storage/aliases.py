"""Model aliases (``churn@champion`` → a version) and their append-only history.

The ``aliases`` collection holds the current pointer per ``(name, alias)``; every
move or removal also appends a record to ``alias_history`` (who moved which alias
from which version to which, when), which is never rewritten.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database

from app.storage.mongo import utcnow
from app.storage.pagination import Page, find_page


class AliasRepository:
    """Current aliases and their history."""

    def __init__(self, db: Database) -> None:
        self._aliases = db.aliases
        self._history = db.alias_history

    def find(self, name: str, alias: str) -> dict[str, Any] | None:
        """The alias ``name@alias``, or None."""
        return self._aliases.find_one({"_id": f"{name}@{alias}"})

    def of_model(self, name: str) -> list[dict[str, Any]]:
        """Every current alias of model ``name``, by alias."""
        return list(self._aliases.find({"name": name}).sort("alias", 1))

    def model_ids_with(self, alias: str) -> list[str]:
        """Ids of the models an alias called ``alias`` points at (any model name)."""
        return [doc["model_id"] for doc in self._aliases.find({"alias": alias}, {"model_id": 1})]

    def pointing_at(self, model_ids: list[str]) -> dict[str, list[str]]:
        """Model id → the aliases that point at it (for listings)."""
        found: dict[str, list[str]] = {}
        for doc in self._aliases.find({"model_id": {"$in": model_ids}}).sort("alias", 1):
            found.setdefault(doc["model_id"], []).append(doc["alias"])
        return found

    def move(
        self,
        name: str,
        alias: str,
        model: dict[str, Any],
        by: str | None,
        reason: str | None = None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Point ``name@alias`` at ``model``; returns (the alias before, the alias now).
        ``reason`` (e.g. a schedule's promotion rule) goes into the history record."""
        now = utcnow()
        fields = {"name": name, "alias": alias, "version": model["version"],
                  "model_id": model["_id"], "updated_at": now, "updated_by": by}  # fmt: skip
        before = self._aliases.find_one_and_update(
            {"_id": f"{name}@{alias}"},
            {"$set": fields},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        self._record(name, alias, before, model["version"], by, reason)
        return before, {"_id": f"{name}@{alias}", **fields}

    def keep(
        self, name: str, alias: str, candidate_version: int, by: str | None, reason: str
    ) -> None:
        """Record a decision not to move ``name@alias`` to ``candidate_version`` (a promotion
        rule's gate refused it): the history shows every decision, not only the moves."""
        current = self.find(name, alias)
        self._record(name, alias, current, current["version"] if current else None, by, reason,
                     kept=candidate_version)  # fmt: skip

    def remove(self, name: str, alias: str, by: str | None) -> dict[str, Any] | None:
        """Delete ``name@alias``; the alias it was, or None if there was none."""
        before = self._aliases.find_one_and_delete({"_id": f"{name}@{alias}"})
        if before is not None:
            self._record(name, alias, before, None, by)
        return before

    def history(self, name: str, page: int, limit: int) -> Page:
        """Every move and removal of ``name``'s aliases, newest first."""
        return find_page(self._history, {"name": name}, [("at", -1), ("_id", -1)], page, limit)

    def _record(
        self,
        name: str,
        alias: str,
        before: dict[str, Any] | None,
        to: int | None,
        by: str | None,
        reason: str | None = None,
        kept: int | None = None,
    ) -> None:
        event = {
            "name": name,
            "alias": alias,
            "from_version": before["version"] if before else None,
            "to_version": to,
            "by": by,
            "at": utcnow(),
        }
        if reason is not None:
            event["reason"] = reason
        if kept is not None:
            event["declined_version"] = kept  # a decision to keep the alias where it was
        self._history.insert_one(event)


def public_alias(doc: dict[str, Any]) -> dict[str, Any]:
    """An alias as the API shows it."""
    fields = ("alias", "version", "model_id", "updated_at", "updated_by")
    return {"name": doc["name"], **{f: doc.get(f) for f in fields}}


def public_alias_event(doc: dict[str, Any]) -> dict[str, Any]:
    """A history record as the API shows it."""
    fields = ("name", "alias", "from_version", "to_version", "by", "at")
    event = {f: doc.get(f) for f in fields}
    extra = {f: doc[f] for f in ("reason", "declined_version") if doc.get(f) is not None}
    return {**event, **extra}
