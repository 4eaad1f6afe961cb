"""Template filters: times, durations, numbers, status badges, query-string links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request, url_for

from app.statuses import ACTIVE

BADGES = {
    "queued": "badge-queued",
    "running": "badge-running",
    "succeeded": "badge-ok",
    "failed": "badge-failed",
    "cancelled": "badge-muted",
}


def _moment(value: Any) -> datetime | None:
    """``value`` as an aware datetime (stores hand back naive UTC or, some, ISO text)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(value: Any) -> str:
    """``2026-03-01 12:00:03 UTC`` (blank for None)."""
    moment = _moment(value)
    if moment is None:
        return "" if value is None else str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: Any, end: Any) -> str:
    """The time from ``start`` to ``end`` (or to now), as ``1 h 02 min``, ``3.2 s``."""
    began = _moment(start)
    if began is None:
        return ""
    seconds = max(0.0, ((_moment(end) or datetime.now(UTC)) - began).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def number(value: Any, digits: int = 4) -> str:
    """A metric for a table: floats to ``digits`` significant figures, others as they are."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.{digits}g}"


def badge(status: str | None) -> str:
    """The CSS class of a status badge."""
    return BADGES.get(status or "", "badge-muted")


def is_active(status: str | None) -> bool:
    """Whether a job or search in ``status`` may still change."""
    return status in ACTIVE


def with_query(**changes: Any) -> str:
    """This page's URL with ``changes`` to its query string (None removes a parameter)."""
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in changes}
    args.update({key: value for key, value in changes.items() if value not in (None, "")})
    return url_for(request.endpoint or "web.jobs", **{**(request.view_args or {}), **args})


def current_page() -> str:
    """The path and query of the page the user sees (for a polled fragment: the page that
    polls it), to come back to after a form."""
    if request.headers.get("HX-Request"):
        shown = urlsplit(request.headers.get("HX-Current-URL", ""))
        return shown.path + (f"?{shown.query}" if shown.query else "")
    return request.full_path if request.query_string else request.path


def install_filters(app: Flask) -> None:
    """Make the filters and helpers above available to every template."""
    app.jinja_env.filters.update(when=when, number=number, badge=badge)
    app.jinja_env.globals.update(
        duration=duration, is_active=is_active, with_query=with_query, current_page=current_page
    )
