"""Who a request is: its request id and the principal of the API key it presents.

The key is looked up once per request and kept in ``g`` (read it with
``app.api.context.principal()``), so the rate limiter, the guard and the audit
writer agree on who called. A request id the client sends in ``X-Request-ID`` is
kept if well-formed; otherwise one is made. Either way the answer carries it.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request
from werkzeug.wrappers import Response

from app.api import context
from app.services.keys import authenticate

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def presented_key() -> str | None:
    """The key sent as ``Authorization: Bearer <key>`` or else ``X-API-Key: <key>``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _identify() -> None:
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
    key = presented_key()
    g.key_presented = key is not None
    g.principal = authenticate(context.db(), context.settings(), key) if key else None


def _tag_response(response: Response) -> Response:
    response.headers["X-Request-ID"] = context.request_id()
    return response


def install(app: Flask) -> None:
    """Identify every request before anything else looks at it."""
    app.before_request(_identify)
    app.after_request(_tag_response)
