"""``Idempotency-Key`` on submits (IETF draft semantics), so a retry never makes a second job.

The same key with the same body returns the original answer (same ``job_id``),
with ``Idempotent-Replayed: true``; the same key with another body is a 422; a
duplicate that arrives while the first is still being handled waits for it a
few seconds and replays it, else gets a 409. Keys are scoped per API key and
kept ``IDEMPOTENCY_HOURS``. Answers of 2xx and 4xx are kept; a 5xx releases the
key so a retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import make_response, request
from werkzeug.wrappers import Response

from app.api import context
from app.api.errors import handle_domain_error
from app.errors import ConflictError, TensorFleetError, UnprocessableError, ValidationError
from app.storage.idempotency import IdempotencyRepository

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the draft's examples
WAIT_SECONDS, POLL_SECONDS = 5.0, 0.05
_KEPT_HEADERS = ("Location", "Content-Type")


def fingerprint() -> str:
    """A hash of what the request asks for: method, path, and its body's content (JSON
    canonicalised, multipart by fields and file hashes, so a new boundary is the same)."""
    parts: list[Any] = [request.method, request.path]
    if request.is_json:
        parts.append(request.get_json(silent=True))
    elif request.mimetype == "multipart/form-data":
        parts.append(sorted(request.form.items(multi=True)))
        for name, upload in sorted(request.files.items(multi=True)):
            parts.append([name, upload.filename, hashlib.sha256(upload.read()).hexdigest()])
            upload.seek(0)
    else:
        parts.append(request.get_data(cache=True).decode("latin-1"))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(view: Callable[..., Any]) -> Callable[..., Response]:
    """Make a creating view honour ``Idempotency-Key``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return make_response(view(*args, **kwargs))
        if not _KEY.match(key):
            raise ValidationError(
                f"{HEADER} must be 1-255 visible ASCII characters.", {"field": HEADER}
            )
        who = context.principal()
        record_id = f"{who.key_id if who else 'anonymous'}:{key}"
        print_ = fingerprint()
        records = IdempotencyRepository(context.db())
        held = records.claim(record_id, print_, context.settings().idempotency_hours)
        if held is not None:
            return _replay(records, record_id, held, print_)
        return _run_and_keep(records, record_id, view, args, kwargs)

    return wrapper


def _run_and_keep(
    records: IdempotencyRepository, record_id: str, view: Callable[..., Any], args: Any, kwargs: Any
) -> Response:
    try:
        response = make_response(view(*args, **kwargs))
    except TensorFleetError as error:
        if error.http_status >= 500:
            records.release(record_id)
            raise
        response = handle_domain_error(error)
    except BaseException:
        records.release(record_id)
        raise
    if response.status_code >= 500:
        records.release(record_id)
        return response
    headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
    answer = {
        "status": response.status_code,
        "body": response.get_data(as_text=True),
        "headers": headers,
    }
    records.complete(record_id, answer)
    return response


def _replay(
    records: IdempotencyRepository, record_id: str, held: dict[str, Any], print_: str
) -> Response:
    if held["fingerprint"] != print_:
        raise UnprocessableError(
            f"This {HEADER} was used for a different request.", {"field": HEADER}
        )
    deadline = time.monotonic() + WAIT_SECONDS
    while held.get("state") != "done" and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        held = records.find(record_id) or held
    if held.get("state") != "done":
        raise ConflictError(
            f"A request with this {HEADER} is still being processed; retry shortly.",
            {"field": HEADER},
        )
    answer = held["answer"]
    response = Response(answer["body"], status=answer["status"], headers=answer["headers"])
    response.headers["Idempotent-Replayed"] = "true"
    return response
