"""Job-finished notifications over Redis pub/sub, so clients can wait without busy polling.

Whoever ends a job publishes on ``tensorfleet:job:<id>``; a waiter subscribes
*before* re-reading the job, so an end between the two is never missed. The
job document stays the truth: the message only says "look again". With Redis
unreachable the wait falls back to re-reading the job every ``RECHECK_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger(__name__)

RECHECK_SECONDS = 1.0  # re-read the job this often even without a message


def channel(job_id: str) -> str:
    """The pub/sub channel of one job."""
    return f"tensorfleet:job:{job_id}"


def publish_job_finished(client: redis.Redis, job_id: str) -> None:
    """Wake whoever waits on ``job_id`` (best effort: waiters re-check anyway)."""
    try:
        client.publish(channel(job_id), "finished")
    except redis.RedisError as exc:
        log.warning("could not publish end of job %s: %s", job_id, exc)


def wait_for_job_end(
    client: redis.Redis,
    job_id: str,
    seconds: float,
    load: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """Return ``load()`` as soon as ``done`` holds for it, or when ``seconds`` have passed."""
    job = load()
    if done(job) or seconds <= 0:
        return job
    deadline = time.monotonic() + seconds
    try:
        with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            pubsub.subscribe(channel(job_id))
            job = load()
            while not done(job):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                pubsub.get_message(timeout=min(left, RECHECK_SECONDS))
                job = load()
    except redis.RedisError as exc:
        log.warning("waiting for job %s without Redis (%s): polling MongoDB", job_id, exc)
        job = _poll(deadline, load, done)
    return job


def _poll(
    deadline: float, load: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Re-read the job every ``RECHECK_SECONDS`` until ``done`` or the deadline."""
    job = load()
    while not done(job) and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, RECHECK_SECONDS))
        job = load()
    return job
