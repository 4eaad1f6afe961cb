"""The OpenAPI document and request validation (spectree + pydantic).

Interactive docs: ``/api/v1/docs/swagger/``, ``/api/v1/docs/redoc/``; the
document itself: ``/api/v1/docs/openapi.json``. A request that fails its
pydantic model becomes our ``ValidationError``, so every 400 has one format.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError
from spectree import SpecTree

from app.errors import ValidationError


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def raise_validation_error(_req: Any, _resp: Any, error: Any, *_: Any) -> None:
    """spectree ``before`` hook: turn pydantic's errors into one ValidationError."""
    if not isinstance(error, PydanticValidationError):
        return
    problems = [
        {"field": _field(item["loc"]), "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]
    first = problems[0]
    raise ValidationError(
        f"{first['field']}: {first['message']}",
        {"field": first["field"], "errors": problems},
    )


spec = SpecTree(
    "flask",
    title="TensorFleet API",
    version="1.0.0",
    description="Train scikit-learn models asynchronously on a fleet of Celery workers.",
    path="api/v1/docs",
    validation_error_status=400,
    before=raise_validation_error,
    annotations=False,
)
