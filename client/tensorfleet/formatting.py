"""Values of the API's answers as short text for people: scores, durations, times, sizes,
hyperparameters, statuses (with their colour)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tensorfleet.statuses import FINISHED

STATUS_STYLES = {
    "queued": "blue",
    "running": "cyan",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "yellow",
}


def one_line(text: Any) -> str:
    """``text`` with every run of white space (newlines too) made one space."""
    return " ".join(str(text).split())


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def number(value: float | None) -> str:
    """A score or metric: 4 decimals (1 beyond 1000); ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


def score(entry: dict[str, Any]) -> str:
    """``score ± score_std`` of a trial (or of a search's best)."""
    if entry.get("score") is None:
        return "-"
    if entry.get("score_std") is None:
        return number(entry["score"])
    return f"{number(entry['score'])} ± {number(entry['score_std'])}"


def seconds(value: float | None) -> str:
    """A duration: ``0.012 s``, ``12.5 s``, ``3 min 20 s``, ``1.5 h``."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.3f} s"
    if value < 100:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes / 60:.1f} h"


def size(value: int | None) -> str:
    """A byte count: ``3858 B``, ``12.3 kB``, ``4.0 MB``."""
    if value is None:
        return "-"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def value(item: Any) -> str:
    """A hyperparameter or tag value: strings bare, anything else as JSON (null, true, 0.1)."""
    return item if isinstance(item, str) else json.dumps(item)


def pairs(mapping: dict[str, Any] | None) -> str:
    """``name=value, …`` (values as :func:`value` shows them)."""
    return ", ".join(f"{name}={value(item)}" for name, item in (mapping or {}).items())


def utc(text: Any) -> datetime | None:
    """An API time (ISO 8601) as an aware datetime, UTC when it names no zone; or None."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(text: str | None) -> str:
    """An API time as ``2025-06-01 12:00:00`` (UTC); ``-`` for none."""
    if not text:
        return "-"
    moment = utc(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else str(text)


def took(thing: dict[str, Any]) -> str:
    """`` (9.500 s)``: from ``started_at`` to ``finished_at``, or nothing."""
    started, finished = utc(thing.get("started_at")), utc(thing.get("finished_at"))
    if started is None or finished is None:
        return ""
    return f" ({seconds(max((finished - started).total_seconds(), 0.0))})"


def status(name: str | None) -> Text:
    """A job's or search's status, coloured on a terminal."""
    return Text(str(name or "-"), style=STATUS_STYLES.get(str(name), ""))


def ended(search: dict[str, Any]) -> int:
    """How many of a search's trials have ended."""
    progress = search.get("progress") or {}
    return sum(progress.get(state, 0) for state in FINISHED)


def trials_ended(search: dict[str, Any]) -> str:
    """``ended/total`` trials of a search."""
    return f"{ended(search)}/{(search.get('progress') or {}).get('total', 0)}"


def model_ref(name: Any, version: Any) -> str:
    """``name@vN`` (``-`` parts when unknown)."""
    if not name:
        return "-"
    return f"{name}@v{version}" if version is not None else str(name)


def dataset_ref(name: Any, version: Any) -> str:
    """``name vN`` (a dataset version)."""
    if not name:
        return "-"
    return f"{name} v{version}" if version is not None else str(name)
