"""Request bodies are checked before a view sees them: the right media type, parseable,
not absurdly nested. Each problem is a clear 4xx, never a 500.

- a view that takes JSON (``spec.validate(json=...)``) gets ``application/json`` or 415;
- a view that takes a form gets ``multipart/form-data`` with a boundary, or 415/400;
- JSON that does not parse, or nests deeper than ``MAX_DEPTH``, is a 400.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from app.api.spec import spec
from app.errors import UnsupportedMediaError, ValidationError

MAX_DEPTH = 32


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, counting no further than ``limit``."""
    if limit <= 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    nested = [child for child in children if isinstance(child, dict | list)]
    return 1 + max((_depth(child, limit - 1) for child in nested), default=0)


def _expected_media_type() -> str | None:
    """``application/json`` or ``multipart/form-data`` if the matched view takes a body."""
    view = current_app.view_functions.get(request.endpoint or "")
    metadata = spec.get_function_metadata(view) if view else None
    if metadata is None:
        return None
    if metadata.json is not None:
        return "application/json"
    if metadata.form is not None:
        return "multipart/form-data"
    return None


def check_request_body() -> None:
    """``before_request``: refuse a body of the wrong type, malformed or too deep."""
    expected = _expected_media_type()
    if expected is not None and request.mimetype != expected:
        sent = request.mimetype or "no Content-Type"
        raise UnsupportedMediaError(
            f"This endpoint takes {expected}; the request sent {sent}.",
            {"expected": expected, "content_type": request.mimetype},
        )
    if request.mimetype == "multipart/form-data" and not request.mimetype_params.get("boundary"):
        raise ValidationError("multipart/form-data needs a boundary.", {"field": "Content-Type"})
    if request.is_json and request.content_length:
        _check_json()


def _check_json() -> None:
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body, too_deep = None, True
    else:
        too_deep = body is not None and _depth(body, MAX_DEPTH + 1) > MAX_DEPTH
    if too_deep:
        raise ValidationError(
            f"The JSON body nests deeper than {MAX_DEPTH} levels.", {"field": "body"}
        )
    if body is None:
        raise ValidationError("The request body is not valid JSON.", {"field": "body"})
