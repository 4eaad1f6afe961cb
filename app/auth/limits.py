"""Rate limits with Flask-Limiter on the stack's Redis: per API key, or per client address.

Three budgets, each shared by the routes it covers: ``RATE_LIMIT_WRITES`` for POST,
PUT, PATCH and DELETE and ``RATE_LIMIT_READS`` for GET (Flask-Limiter, with the
``X-RateLimit-*`` headers on every answer), and ``RATE_LIMIT_PREDICTIONS`` for the
prediction endpoints, serving traffic (``PredictionBudget``: the same ``limits``
library and Redis counters, one Redis round trip per request, the headers on a 429
only). A refused request is a 429 with ``Retry-After`` and the ``X-RateLimit-*``
headers. With Redis unreachable both fall back to per-process memory instead of
failing requests.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, cast

from flask import Flask, request
from flask_limiter import ApplicationLimit, Limiter
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.api.context import principal
from app.auth.guard import is_public
from app.config import Settings
from app.errors import TooManyRequestsError

log = logging.getLogger(__name__)

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PREDICTION_ENDPOINTS = frozenset(
    {"predictions.predict_rows", "inference_v2.infer", "inference_v2.infer_version"}
)


def _is_prediction() -> bool:
    return request.endpoint in PREDICTION_ENDPOINTS


class PredictionBudget:
    """``RATE_LIMIT_PREDICTIONS`` per caller, checked before a prediction view runs.

    A fixed window per limit, counted in Redis by ``limits`` (as Flask-Limiter does),
    with one round trip per request: the remaining budget is read only to answer a 429.
    If Redis fails, counting moves to this process's memory (logged once).
    """

    def __init__(self, settings: Settings, storage_uri: str, options: dict[str, Any]) -> None:
        self.enabled = settings.rate_limits_enabled
        self.limits = list(parse_many(settings.rate_limit_predictions))
        self._shared = FixedWindowRateLimiter(storage_from_string(storage_uri, **options))
        self._local = FixedWindowRateLimiter(MemoryStorage())
        self._redis_down = False

    def check(self) -> None:
        """``before_request``: TooManyRequestsError if this caller's budget is spent."""
        if not self.enabled or request.endpoint not in PREDICTION_ENDPOINTS:
            return
        key = caller_key()
        for limit in self.limits:
            if not self._hit(limit, key):
                raise self._refusal(limit, key)

    def _hit(self, limit: RateLimitItem, key: str) -> bool:
        if not self._redis_down:
            try:
                return self._shared.hit(limit, "tensorfleet/predictions", key)
            except Exception as exc:  # redis-py errors, timeouts: never fail the request
                log.warning("prediction rate limit: Redis unreachable (%s); counting locally", exc)
                self._redis_down = True
        return self._local.hit(limit, "tensorfleet/predictions", key)

    def _refusal(self, limit: RateLimitItem, key: str) -> TooManyRequestsError:
        limiter = self._local if self._redis_down else self._shared
        try:
            reset = limiter.get_window_stats(limit, "tensorfleet/predictions", key).reset_time
        except Exception:
            reset = time.time() + limit.get_expiry()
        retry = max(1, math.ceil(reset - time.time()))
        return TooManyRequestsError(
            f"Rate limit of {limit} prediction requests exceeded; retry in {retry} s.",
            {"limit": str(limit), "retry_after": retry},
            headers={
                "Retry-After": str(retry),
                "X-RateLimit-Limit": str(limit.amount),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(reset)),
            },
        )


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
    redis_options: dict[str, Any] = {
        "socket_connect_timeout": min(timeout, 0.5),
        "socket_timeout": min(timeout, 0.5),
        "retry": Retry(NoBackoff(), 0),
    }
    if storage == "memory://":
        redis_options = {}
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
            ApplicationLimit(settings.rate_limit_reads, scope="reads", methods=("GET",)),
        ],
        storage_uri=storage,
        # redis-py options; Flask-Limiter's annotation says str | int, it passes them through
        storage_options=cast(dict[str, str | int], redis_options),
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="tensorfleet",
        enabled=settings.rate_limits_enabled,
    )
    limiter.request_filter(_exempt)
    app.extensions["tensorfleet.limiter"] = limiter
    budget = PredictionBudget(settings, storage, redis_options)
    app.before_request(budget.check)
    app.extensions["tensorfleet.prediction_budget"] = budget
    return limiter
