"""The trust boundary of the HTTP API, as request hooks installed in this order:

1. ``identity``: a request id (``X-Request-ID``), and who the caller is (the key
   sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, checked once);
2. ``limits``: Flask-Limiter, per key (per client address without one), on Redis;
3. ``guard``: deny by default: every route needs a key with its scope, except
   the explicit allowlist ``PUBLIC_ENDPOINTS`` (health, readiness, metrics, docs);
4. ``audit``: one record per mutating (POST, PUT, PATCH, DELETE) and per refused
   (401, 403, 429) request, written to MongoDB after the answer is made.

Keys themselves (format, scopes, storage) are a use case: ``app.services.keys``.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.auth import audit, guard, identity, limits


def install_security(app: Flask) -> None:
    """Install the hooks above on ``app`` (call before any other ``before_request``)."""
    settings = app.extensions["tensorfleet.settings"]
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    identity.install(app)
    limits.install(app, settings)
    guard.install(app)
    audit.install(app)
