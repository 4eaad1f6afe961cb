"""The OpenAPI document, request validation and route scopes (spectree + pydantic).

Interactive docs: ``/api/v1/docs/swagger/``, ``/api/v1/docs/redoc/`` (their
assets are served by ``app.api.docs``, no CDN); the document itself:
``/api/v1/docs/openapi.json``. A request that fails its pydantic model becomes
our ``ValidationError``, so every 400 has one format. Each route declares the
scope its API key needs with ``security=scope("train")``; the guard
(``app.auth.guard``) enforces exactly what the document says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from spectree import SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData

from app.api.docs import PAGE_TEMPLATES
from app.errors import ValidationError

BEARER, API_KEY = "bearerAuth", "apiKeyHeader"
PUBLIC: list[dict[str, list[str]]] = []  # ``security=PUBLIC``: answers without a key


def scope(name: str) -> list[dict[str, list[str]]]:
    """``security=`` of a route that needs a key with scope ``name`` (either header)."""
    return [{BEARER: [name]}, {API_KEY: [name]}]


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
    description="Train scikit-learn models asynchronously on a fleet of Celery workers."
    " Every route but health, readiness, metrics and these docs needs an API key with a scope"
    " (read, train, predict, admin): `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
    path="api/v1/docs",
    validation_error_status=400,
    before=raise_validation_error,
    annotations=False,
    security_schemes=[
        SecurityScheme(
            name=BEARER,
            data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer", bearer_format="tf_…"),
        ),
        SecurityScheme(
            name=API_KEY,
            data=SecuritySchemeData(
                type=SecureType.API_KEY, name="X-API-Key", field_in=InType.HEADER
            ),
        ),
    ],
    security=scope("admin"),
)
spec.config.page_templates = PAGE_TEMPLATES


def scope_of(view: Callable[..., Any]) -> str | None:
    """The scope a view declared with ``security=scope(...)`` (None if it declared none)."""
    metadata = spec.get_function_metadata(view)
    security = getattr(metadata, "security", None)
    if not security:
        return None
    return next(iter(security[0].values()))[0]
