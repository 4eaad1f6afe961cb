"""Rate limits with Flask-Limiter on the stack's Redis: per API key, or per client address.

Three budgets, each shared by the routes it covers: ``RATE_LIMIT_PREDICTIONS`` for
the prediction endpoints (serving traffic, far more than people submit),
``RATE_LIMIT_WRITES`` for every other POST, PUT, PATCH and DELETE, and
``RATE_LIMIT_READS`` for GET. A refused request is a 429 with
``Retry-After`` and the ``X-RateLimit-*`` headers. With Redis unreachable the
limiter falls back to per-process memory after one short timeout instead of
failing requests.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, request
from flask_limiter import ApplicationLimit, Limiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.api.context import principal
from app.auth.guard import is_public
from app.config import Settings

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PREDICTION_ENDPOINTS = frozenset(
    {"predictions.predict_rows", "inference_v2.infer", "inference_v2.infer_version"}
)


def _is_prediction() -> bool:
    return request.endpoint in PREDICTION_ENDPOINTS


def _not_prediction() -> bool:
    return not _is_prediction()


def caller_key() -> str:
    """What a request is counted against: its key's id, else its client address."""
    who = principal()
    return f"key:{who.key_id}" if who else f"addr:{request.remote_addr}"


def _exempt() -> bool:
    """The allowlisted routes (health, metrics, docs) are never limited."""
    return request.endpoint is None or is_public(request.endpoint)


def install(app: Flask, settings: Settings) -> Limiter:
    """A Limiter for ``app`` (kept in ``app.extensions``: Flask-Limiter holds it weakly)."""
    timeout = settings.service_timeout_ms / 1000
    storage = settings.redis_url if settings.redis_url.startswith("redis") else "memory://"
    limiter = Limiter(
        caller_key,
        app=app,
        application_limits=[
            ApplicationLimit(
                settings.rate_limit_writes,
                scope="writes",
                methods=WRITE_METHODS,
                exempt_when=_is_prediction,
            ),
            ApplicationLimit(
                settings.rate_limit_predictions,
                scope="predictions",
                methods=("POST",),
                exempt_when=_not_prediction,
            ),
            ApplicationLimit(settings.rate_limit_reads, scope="reads", methods=("GET",)),
        ],
        storage_uri=storage,
        # redis-py options; Flask-Limiter's annotation says str | int, it passes them through
        storage_options=cast(
            dict[str, str | int],
            {
                "socket_connect_timeout": min(timeout, 0.5),
                "socket_timeout": min(timeout, 0.5),
                "retry": Retry(NoBackoff(), 0),
            },
        ),
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="tensorfleet",
        enabled=settings.rate_limits_enabled,
    )
    limiter.request_filter(_exempt)
    app.extensions["tensorfleet.limiter"] = limiter
    return limiter
