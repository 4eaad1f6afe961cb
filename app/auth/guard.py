"""Deny by default: every route needs an API key holding the route's scope.

A route's scope is declared once, in its ``spec.validate(security=scope("train"))``
(``app.api.spec``), so the OpenAPI document and the check cannot disagree. A
route without a declaration needs ``admin``; only ``PUBLIC_ENDPOINTS`` answer
without a key. The web UI (blueprint ``web``, under ``/ui/``) checks its own session
cookie instead (``app.web.session``): the guard lets its routes through, and a session
never authenticates a JSON route.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from app.api.context import principal
from app.api.spec import scope_of
from app.errors import AuthenticationError, PermissionDeniedError

PUBLIC_ENDPOINTS = frozenset(
    {
        "health.health",
        "health.ready",
        "metrics.serve_metrics",
        "ui_home",  # a redirect to /ui/, which asks for a key itself
        "docs_redirect",
        "docs.asset",
        "openapi_api/v1/docs",  # spectree's: the OpenAPI document and its two pages
        "openapi_api/v1/docs_swagger",
        "openapi_api/v1/docs_redoc",
        "web.static",  # the UI's CSS and JS, and its login form: anyone may see them
        "web.login",
        "web.login_submit",
    }
)
SELF_GUARDED_BLUEPRINTS = frozenset({"web"})  # check their own session (app.web.session)
_CHALLENGE = 'Bearer realm="tensorfleet"'


def is_public(endpoint: str) -> bool:
    """Whether ``endpoint`` answers without a key (the allowlist)."""
    return endpoint in PUBLIC_ENDPOINTS


def required_scope(endpoint: str) -> str:
    """The scope a key needs for ``endpoint`` (``admin`` unless the view declares one)."""
    return scope_of(current_app.view_functions[endpoint]) or "admin"


def _enforce() -> None:
    endpoint = request.endpoint
    if endpoint is None or request.method == "OPTIONS" or is_public(endpoint):
        return  # unmatched URLs answer 404/405 for everyone
    if request.blueprint in SELF_GUARDED_BLUEPRINTS:
        return
    caller = principal()
    if caller is None:
        if g.get("key_presented"):
            message = "The API key is not valid: unknown, expired or revoked."
            challenge = f'{_CHALLENGE}, error="invalid_token"'
        else:
            message = "An API key is required: 'Authorization: Bearer <key>' or 'X-API-Key'."
            challenge = _CHALLENGE
        raise AuthenticationError(message, {}, {"WWW-Authenticate": challenge})
    needed = required_scope(endpoint)
    if not caller.allows(needed):
        raise PermissionDeniedError(
            f"This API key lacks the '{needed}' scope.",
            {"required_scope": needed, "key_scopes": sorted(caller.scopes)},
        )


def install(app: Flask) -> None:
    """Check every request after it was identified and rate limited."""
    app.before_request(_enforce)
