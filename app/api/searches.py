"""Hyperparameter searches: submit, follow (progress, best, leaderboard), list trials,
cancel. Each trial is also a job (``GET /api/v1/jobs?search_id=<id>``)."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, url_for
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response as Spec

from app.api import context
from app.api.idempotency import idempotent
from app.api.schemas import ErrorBody, PageQuery
from app.api.spec import scope, spec
from app.services import searches as search_service
from app.services.searches import SearchRequest
from app.storage.searches import SearchRepository

bp = Blueprint("searches", __name__)


class SearchListQuery(PageQuery):
    """Filters of ``GET /api/v1/searches``."""

    status: Literal["running", "succeeded", "failed", "cancelled"] | None = None
    model_name: str | None = Field(None, max_length=128)
    dataset: str | None = Field(None, max_length=128)
    strategy: Literal["grid", "random", "halving", "bayesian"] | None = None


class TrialListQuery(BaseModel):
    """``?sort=-score`` (best first, default), ``score``, ``trial``, ``fit_time``,
    ``-fit_time``; ``page`` and ``limit``."""

    model_config = ConfigDict(extra="forbid")

    sort: Literal["-score", "score", "trial", "-trial", "fit_time", "-fit_time"] = "-score"
    page: int = Field(1, ge=1, le=100_000)
    limit: int = Field(20, ge=1, le=100)


@bp.post("")
@idempotent
@spec.validate(
    json=SearchRequest,
    resp=Spec(HTTP_400=ErrorBody, HTTP_403=ErrorBody, HTTP_404=ErrorBody, HTTP_503=ErrorBody),
    tags=["searches"],
    security=scope("train"),
)
def create_search() -> tuple[dict, int, dict]:
    """Start a search: `{"dataset": "iris", "algorithm": "random_forest", "strategy":
    "random", "space": {"n_estimators": {"low": 10, "high": 200, "log": true, "type":
    "int"}, "max_depth": [3, 5, null]}, "cv": 5, "budget": {"trials": 12, "parallelism":
    4}, "promote": "challenger"}` → 202 with `Location: /api/v1/searches/<id>`. The whole
    space is checked first: a bad value, a range on a categorical parameter, an empty list,
    a grid over the trial budget or an unknown metric → 400 naming the field and value."""
    db = context.db()
    search = search_service.submit_search(
        db,
        context.celery(),
        context.parsed().json,
        context.redis_client(),
        context.principal(),
        context.settings().protected_alias_names,
    )
    location = url_for("searches.get_search", search_id=search["_id"])
    return search_service.describe(db, search), 202, {"Location": location}


@bp.get("")
@spec.validate(query=SearchListQuery, tags=["searches"], security=scope("read"))
def list_searches() -> dict:
    """Searches, newest first: `?status=&model_name=&dataset=&strategy=&page=&limit=`."""
    query = context.parsed().query
    filters = query.model_dump(include={"status", "model_name", "dataset", "strategy"})
    page = SearchRepository(context.db()).list(filters, query.page, query.limit)
    db = context.db()
    return page.as_json(lambda doc: search_service.describe(db, doc))


@bp.get("/<search_id>")
@spec.validate(resp=Spec(HTTP_404=ErrorBody), tags=["searches"], security=scope("read"))
def get_search(search_id: str) -> dict:
    """`{search_id, status, strategy, progress: {total, queued, running, succeeded, failed,
    cancelled}, best: {trial, params, score, score_std, model_id, version}, leaderboard,
    created_at, started_at, finished_at, error}`."""
    db = context.db()
    return search_service.describe(db, SearchRepository(db).get(search_id))


@bp.get("/<search_id>/trials")
@spec.validate(
    query=TrialListQuery, resp=Spec(HTTP_404=ErrorBody), tags=["searches"], security=scope("read")
)
def list_trials(search_id: str) -> dict:
    """A search's trials: each with `params`, `fold_scores`, `score` (their mean),
    `score_std`, `fit_time`, `worker` and `status`."""
    query = context.parsed().query
    return search_service.trials_page(context.db(), search_id, query.sort, query.page, query.limit)


@bp.post("/<search_id>/cancel")
@spec.validate(
    resp=Spec(HTTP_404=ErrorBody, HTTP_409=ErrorBody), tags=["searches"], security=scope("train")
)
def cancel_search(search_id: str) -> tuple[dict, int]:
    """Stop a search: queued and running trials are cancelled, finished ones kept; it ends
    `cancelled`. 409 if it had already ended."""
    db = context.db()
    ended = search_service.cancel_search(db, context.redis_client(), context.celery(), search_id)
    return search_service.describe(db, ended), 202
