"""The audit writer: exactly one record per mutating and per refused request.

Mutating: POST, PUT, PATCH, DELETE, except the prediction endpoints (POSTs that change
nothing; each answered prediction is recorded in the prediction log instead, with its
request id). Refused: 401, 403, 429. A record holds the
time, the key's id and name (never the secret), method, route, path, status,
client address, request id, and the ids the request created or touched (its URL
parameters and the ids in a 2xx answer's body). If MongoDB cannot take the
record the answer still goes out, and the failure is logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, request
from pymongo.errors import PyMongoError
from werkzeug.wrappers import Response

from app.api import context
from app.auth.limits import PREDICTION_ENDPOINTS
from app.storage.audit import AuditRepository, new_audit_record

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_ONLY_POSTS = PREDICTION_ENDPOINTS  # their answers go to the prediction log
REFUSED = frozenset({401, 403, 429})
_ID_FIELDS = ("job_id", "model_id", "search_id", "id", "name", "version")


def touched_ids(response: Response) -> dict[str, Any]:
    """The ids a request named in its URL or created (from a JSON 2xx answer's body)."""
    touched: dict[str, Any] = dict(request.view_args or {})
    if 200 <= response.status_code < 300 and response.is_json and not response.is_streamed:
        body = json.loads(response.get_data())
        if isinstance(body, dict):
            touched.update({k: body[k] for k in _ID_FIELDS if isinstance(body.get(k), str | int)})
    return touched


def _record(response: Response) -> Response:
    refused = response.status_code in REFUSED
    if not refused and (request.method not in MUTATING or request.endpoint in READ_ONLY_POSTS):
        return response
    who = context.principal()
    record = new_audit_record(
        event="request",
        key_id=who.key_id if who else None,
        key_name=who.name if who else None,
        method=request.method,
        route=request.url_rule.rule if request.url_rule else None,
        path=request.path,
        status=response.status_code,
        client=request.remote_addr,
        request_id=context.request_id(),
        touched=touched_ids(response),
    )
    try:
        AuditRepository(context.db()).insert(record)
    except PyMongoError as exc:
        log.error("audit record of %s %s not written: %s", request.method, request.path, exc)
    return response


def install(app: Flask) -> None:
    """Write the audit record of every request that needs one."""
    app.after_request(_record)
