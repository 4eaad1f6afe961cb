"""The Redis client of this process (job-end notifications; Celery keeps its own)."""

from __future__ import annotations

import os
import threading

import redis

from app.config import Settings

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def get_redis(settings: Settings) -> redis.Redis:
    """A Redis client for ``settings.redis_url``; a forked child gets its own pool."""
    key = (os.getpid(), settings.redis_url)
    with _lock:
        if key not in _clients:
            _clients[key] = redis.Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=settings.service_timeout_ms / 1000,
                socket_timeout=settings.redis_socket_timeout,
            )
        return _clients[key]
