"""The model registry's use cases: references, aliases (with history, protection and a
promotion gate), tags and descriptions, search, and deleting a version.

A model is named by its id, or ``<name>@<alias>``, ``<name>@v<version>`` or
``<name>@latest``, everywhere (paths, bodies, the CLI). Aliases follow the name
rules; ``v<digits>`` and ``latest`` are reserved. Aliases in ``PROTECTED_ALIASES``
(``champion,production`` by default) move only with the admin scope.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymongo.database import Database

from app.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from app.services.keys import Principal
from app.storage.aliases import AliasRepository
from app.storage.models import ModelRepository
from app.storage.pagination import Page, Window

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_REF = re.compile(rf"^(?P<name>{NAME})@(?P<selector>[A-Za-z0-9_.-]{{1,128}})$")
_VERSION = re.compile(r"^v(?P<version>[0-9]{1,9})$")
_ALIAS = re.compile(rf"^{NAME}$")
MAX_TAGS, MAX_TAG_VALUE = 20, 256
Listing = TypeVar("Listing", Page, Window)  # a page of models, counted or not
TAG_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Gate(BaseModel):
    """A promotion gate: refuse the move if the candidate scores worse on ``metric``."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=64, examples=["f1_macro"])
    min_delta: float = Field(0.0, ge=-1e6, le=1e6)


class AliasMove(BaseModel):
    """Body of ``PUT /api/v1/models/<name>/aliases/<alias>``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1, examples=[3])
    gate: Gate | None = None


class ModelPatch(BaseModel):
    """Body of ``PATCH /api/v1/models/<ref>``: tags to set (``null`` removes one) and the
    description."""

    model_config = ConfigDict(extra="forbid")

    tags: dict[str, str | None] | None = Field(None, examples=[{"team": "risk"}])
    description: str | None = Field(None, max_length=2000)

    @field_validator("tags")
    @classmethod
    def _bounded(cls, tags: dict[str, str | None] | None) -> dict[str, str | None] | None:
        if tags is None:
            return None
        if len(tags) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        for key, value in tags.items():
            if not re.match(TAG_KEY, key):
                raise ValueError(f"tag name {key!r} must match {TAG_KEY}")
            if value is not None and len(value) > MAX_TAG_VALUE:
                raise ValueError(f"tag {key!r} is longer than {MAX_TAG_VALUE} characters")
        return tags


def check_alias_name(alias: str) -> None:
    """ValidationError unless ``alias`` follows the name rules and is not reserved."""
    if not _ALIAS.match(alias) or alias == "latest" or _VERSION.match(alias):
        raise ValidationError(
            f"'{alias}' cannot be an alias: use letters, digits, '_', '.', '-';"
            " 'latest' and 'v<digits>' are reserved.",
            {"field": "alias"},
        )


def resolve(db: Database, ref: str) -> dict[str, Any]:
    """The model document ``ref`` names (id, ``name@alias``, ``name@v3``, ``name@latest``)."""
    models = ModelRepository(db)
    found = _REF.match(ref)
    if found is None:
        return models.get(ref)
    name, selector = found["name"], found["selector"]
    if selector == "latest":
        model = models.latest(name)
    elif version := _VERSION.match(selector):
        model = models.find_version(name, int(version["version"]))
    else:
        alias = AliasRepository(db).find(name, selector)
        model = models.find(alias["model_id"]) if alias else None
    if model is None:
        raise NotFoundError(f"No model '{ref}'.", {"model": ref})
    return model


def move_alias(
    db: Database,
    name: str,
    alias: str,
    move: AliasMove,
    who: Principal | None,
    protected: frozenset[str],
    reason: str | None = None,
) -> dict[str, Any]:
    """Point ``name@alias`` at version ``move.version``; returns the alias (``reason`` is
    kept in the alias history)."""
    check_alias_name(alias)
    if alias in protected and not (who and who.allows("admin")):
        raise PermissionDeniedError(
            f"'{alias}' is a protected alias: moving it needs the 'admin' scope.",
            {"required_scope": "admin", "alias": alias},
        )
    models, aliases = ModelRepository(db), AliasRepository(db)
    candidate = models.find_version(name, move.version)
    if candidate is None:
        raise NotFoundError(f"Model '{name}' has no version {move.version}.", {"model": name})
    current = aliases.find(name, alias)
    if move.gate is not None and current is not None:
        check_gate(move.gate, candidate, models.find(current["model_id"]))
    _before, now = aliases.move(name, alias, candidate, who.key_id if who else None, reason)
    return now


def check_gate(gate: Gate, candidate: dict[str, Any], incumbent: dict[str, Any] | None) -> None:
    """ConflictError naming both scores if ``candidate`` fails ``gate`` against ``incumbent``
    (ValidationError if the metric is not a number of both); nothing without an incumbent."""
    if incumbent is None:
        return
    new, old = candidate["metrics"].get(gate.metric), incumbent["metrics"].get(gate.metric)
    if not isinstance(new, int | float) or not isinstance(old, int | float):
        raise ValidationError(
            f"Metric '{gate.metric}' is not a number of both versions.",
            {"field": "gate.metric"},
        )
    if new < old + gate.min_delta:
        raise ConflictError(
            f"Version {candidate['version']} scores {gate.metric}={new:.6g}, version"
            f" {incumbent['version']} {old:.6g}: the gate needs at least"
            f" {old + gate.min_delta:.6g}.",
            {"candidate": new, "current": old, "metric": gate.metric},
        )


def remove_alias(
    db: Database, name: str, alias: str, who: Principal | None, protected: frozenset[str]
) -> None:
    """Delete ``name@alias``; NotFoundError if there is none."""
    if alias in protected and not (who and who.allows("admin")):
        raise PermissionDeniedError(
            f"'{alias}' is a protected alias: removing it needs the 'admin' scope.",
            {"required_scope": "admin", "alias": alias},
        )
    if AliasRepository(db).remove(name, alias, who.key_id if who else None) is None:
        raise NotFoundError(f"No alias '{name}@{alias}'.", {"model": name, "alias": alias})


def patch_model(db: Database, ref: str, patch: ModelPatch) -> dict[str, Any]:
    """Set or remove tags and set the description of the model ``ref`` names."""
    model = resolve(db, ref)
    tags = {**model.get("tags", {})}
    for key, value in (patch.tags or {}).items():
        if value is None:
            tags.pop(key, None)
        else:
            tags[key] = value
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A model has at most {MAX_TAGS} tags.", {"field": "tags"})
    description = model.get("description", "") if patch.description is None else patch.description
    return ModelRepository(db).update_labels(model["_id"], tags, description)


def delete_version(db: Database, ref: str) -> None:
    """Delete a model version (document and files); 409 while an alias points at it."""
    model = resolve(db, ref)
    held = AliasRepository(db).pointing_at([model["_id"]]).get(model["_id"])
    if held:
        raise ConflictError(
            f"Version {model['version']} of '{model['name']}' is"
            f" {', '.join('@' + a for a in held)}; move the alias first.",
            {"aliases": held, "model_id": model["_id"]},
        )
    ModelRepository(db).delete(model["_id"])


def search(
    db: Database,
    *,
    filters: dict[str, Any],
    alias: str | None,
    tags: dict[str, str],
    min_score: float | None,
    created_after: datetime | None,
    created_before: datetime | None,
    sort: str,
    page: int,
    limit: int,
) -> Page:
    """Models matching every filter, with ``aliases`` added to each."""
    query = model_query(
        db,
        filters=filters,
        alias=alias,
        tags=tags,
        min_score=min_score,
        created_after=created_after,
        created_before=created_before,
    )
    found = ModelRepository(db).find_page(query, sort, page, limit)
    return with_aliases(db, found)


def model_query(
    db: Database,
    *,
    filters: dict[str, Any],
    alias: str | None,
    tags: dict[str, str],
    min_score: float | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> dict[str, Any]:
    """The MongoDB query of ``search``'s filters (None values ignored)."""
    query = {k: v for k, v in filters.items() if v is not None}
    query.update({f"tags.{key}": value for key, value in tags.items()})
    if min_score is not None:
        query["score"] = {"$gte": min_score}
    created = {op: t for op, t in (("$gte", created_after), ("$lt", created_before)) if t}
    if created:
        query["created_at"] = created
    if alias is not None:
        query["_id"] = {"$in": AliasRepository(db).model_ids_with(alias)}
    return query


def with_aliases(db: Database, page: Listing) -> Listing:
    """``page`` with each model's current aliases under ``aliases``."""
    held = AliasRepository(db).pointing_at([m["_id"] for m in page.items])
    page.items = [{**m, "aliases": held.get(m["_id"], [])} for m in page.items]
    return page


def describe(db: Database, model: dict[str, Any]) -> dict[str, Any]:
    """One model with its current aliases."""
    return {
        **model,
        "aliases": AliasRepository(db).pointing_at([model["_id"]]).get(model["_id"], []),
    }
