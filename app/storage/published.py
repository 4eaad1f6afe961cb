"""Which queued jobs have a message in Redis: a set beside the queue, in the same Redis.

A job id is added when its message is published and removed when a run claims
it. If Redis loses its data (restarted without persistence), the set is lost
with the queue, so the supervisor can tell "waiting in a long backlog" (still in
the set) from "message lost" (queued in MongoDB, missing here) without reading
the queue. Best effort: a failed update only risks one harmless duplicate later.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)

KEY = "tensorfleet:published"


def mark_published(client: redis.Redis, *job_ids: str) -> None:
    """Note that ``job_ids`` have a message on the queue."""
    try:
        client.sadd(KEY, *job_ids)
    except redis.RedisError as exc:
        log.warning("could not note published jobs %s: %s", job_ids, exc)


def mark_claimed(client: redis.Redis, job_id: str) -> None:
    """A run took ``job_id``: its message is consumed."""
    try:
        client.srem(KEY, job_id)
    except redis.RedisError as exc:
        log.warning("could not note claimed job %s: %s", job_id, exc)


def unpublished(client: redis.Redis, job_ids: list[str]) -> list[str]:
    """Those of ``job_ids`` with no message noted (raises RedisError if Redis is down)."""
    if not job_ids:
        return []
    flags = client.smismember(KEY, job_ids)
    return [job_id for job_id, present in zip(job_ids, flags, strict=True) if not present]
