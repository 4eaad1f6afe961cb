"""Reading a page's query string and forms: bad values are a 400 page naming the field."""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from typing import Any

from flask import request

from app.errors import ValidationError

DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE = 50, 200, 100_000
MAX_TEXT = 128


def page_and_limit(default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
    """``?page=`` (from 1) and ``?limit=`` (1 to ``MAX_LIMIT``)."""
    page = _integer("page", 1, 1, MAX_PAGE)
    limit = _integer("limit", default_limit, 1, MAX_LIMIT)
    return page, limit


def _integer(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError(
            f"'{name}' must be a whole number from {low} to {high}.", {"field": name}
        )
    return int(raw)


def text(name: str, max_length: int = MAX_TEXT) -> str | None:
    """A free-text filter (None when absent or blank)."""
    value = request.args.get(name, "").strip()
    if len(value) > max_length:
        raise ValidationError(f"'{name}' is longer than {max_length} characters.", {"field": name})
    return value or None


def choice(name: str, allowed: Collection[str], default: str | None = None) -> str | None:
    """A value out of ``allowed`` (``default`` when absent)."""
    value = request.args.get(name, "").strip()
    if not value:
        return default
    if value not in allowed:
        raise ValidationError(
            f"'{name}' must be one of: {', '.join(allowed)}.", {"field": name, "allowed": allowed}
        )
    return value


def id_list(name: str = "ids") -> list[str]:
    """``?ids=a,b`` (or ``?ids=a&ids=b``, as a form of checkboxes sends) as a list, in order,
    without repeats."""
    parts = [part.strip() for value in request.args.getlist(name) for part in value.split(",")]
    return list(dict.fromkeys(part for part in parts if part))


def form_value(raw: str) -> Any:
    """A typed form field as the JSON API would receive it: ``5`` → 5, ``0.1`` → 0.1,
    ``true``/``false``, ``None``/``null`` → None, anything else the text itself."""
    value = raw.strip()
    if value in ("None", "none"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, float) and not math.isfinite(parsed):
        return value
    return parsed if isinstance(parsed, str | int | float | bool) or parsed is None else value


def form_number(name: str, default: float | None = None) -> float | None:
    """An optional number field of the posted form."""
    raw = request.form.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"'{name}' must be a number.", {"field": name}) from None
    if not math.isfinite(value):
        raise ValidationError(f"'{name}' must be a finite number.", {"field": name})
    return value
