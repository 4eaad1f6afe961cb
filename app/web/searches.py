"""Searches pages: the list with progress, and one search's progress, leaderboard (with the
halving rung of each trial) and a chart of score against each searched parameter."""

from __future__ import annotations

from typing import Any

from flask import render_template

from app.api import context
from app.services import searches as search_service
from app.storage.jobs import JobRepository
from app.storage.searches import SearchRepository
from app.web.blueprint import bp
from app.web.charts import scatter_chart
from app.web.params import choice, page_and_limit, text

STATUSES = ("running", "succeeded", "failed", "cancelled")
STRATEGIES = ("grid", "random", "halving", "bayesian")
TRIAL_FIELDS = dict.fromkeys(("trial", "status", "params", "rung", "result"), 1)


@bp.get("/searches")
def searches() -> str:
    """Searches, newest first, each with its trials' progress (one aggregation per page)."""
    filters = {
        "status": choice("status", STATUSES),
        "strategy": choice("strategy", STRATEGIES),
        "model_name": text("model_name"),
        "dataset": text("dataset"),
    }
    page, limit = page_and_limit()
    found = SearchRepository(context.db()).list(filters, page, limit)
    counts = JobRepository(context.db()).trial_counts([s["_id"] for s in found.items])
    return render_template(
        "searches/list.html",
        page=found,
        counts=counts,
        filters=filters,
        statuses=STATUSES,
        strategies=STRATEGIES,
    )


def _described(search_id: str) -> dict[str, Any]:
    db = context.db()
    return search_service.describe(db, SearchRepository(db).get(search_id))


@bp.get("/searches/<search_id>")
def search(search_id: str) -> str:
    """One search: progress, best trial, leaderboard, score against each parameter."""
    described = _described(search_id)
    trials = JobRepository(context.db()).of_search(search_id, projection=TRIAL_FIELDS)
    return render_template(
        "searches/detail.html", search=described, charts=param_charts(described, trials)
    )


@bp.get("/searches/<search_id>/live")
def search_live(search_id: str) -> str:
    """The part of a search's page that changes while it runs (polled until it ends)."""
    return render_template("searches/_live.html", search=_described(search_id))


def _axis(values: list[Any]) -> list[float | str]:
    """Numbers stay numbers; a parameter with any other value (None, text) is categorical."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    return [str(v) for v in values]


def param_charts(search: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Per searched parameter: a scatter of each succeeded trial's score against its value
    (the best trial highlighted; log axis for a log range)."""
    scored = [
        t
        for t in trials
        if t.get("status") == "succeeded" and (t.get("result") or {}).get("score") is not None
    ]
    if not scored:
        return {}
    best = (search.get("best") or {}).get("trial")
    shown = {}
    for name, entry in (search.get("space") or {}).items():
        having = [t for t in scored if name in (t.get("params") or {})]
        if not having:
            continue
        xs = _axis([t["params"][name] for t in having])
        points = [(x, float(t["result"]["score"])) for x, t in zip(xs, having, strict=True)]
        highlight = next((i for i, t in enumerate(having) if t["trial"] == best), None)
        shown[name] = scatter_chart(
            points,
            title=f"{search['metric']} against {name}",
            x_label=name,
            y_label=search["metric"],
            log_x=isinstance(entry, dict) and bool(entry.get("log")),
            highlight=highlight,
        )
    return shown
