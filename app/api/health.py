"""``/health`` (the process is alive) and ``/ready`` (Redis and MongoDB answer)."""

from __future__ import annotations

from flask import Blueprint
from redis.exceptions import RedisError
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ErrorBody
from app.api.spec import PUBLIC, spec
from app.errors import ServiceUnavailableError
from app.storage.mongo import ping

bp = Blueprint("health", __name__)


@bp.get("/health")
@spec.validate(tags=["health"], security=PUBLIC)
def health() -> dict:
    """Liveness: 200 while the process serves requests."""
    return {"status": "ok"}


@bp.get("/ready")
@spec.validate(resp=Spec(HTTP_503=ErrorBody), tags=["health"], security=PUBLIC)
def ready() -> dict:
    """Readiness: 200 when Redis and MongoDB answer, else 503 naming what is down."""
    down = []
    try:
        context.redis_client().ping()
    except (RedisError, OSError):
        down.append("redis")
    try:
        ping(context.db())
    except ServiceUnavailableError:
        down.append("mongodb")
    if down:
        raise ServiceUnavailableError(f"Unreachable: {', '.join(down)}.", {"down": down})
    return {"status": "ready", "redis": "ok", "mongodb": "ok"}
