"""How a job ends: the one place that fails or succeeds it.

Ending a job is always the same four steps, in this order: the conditional
state change (only an active job can end, so two actors never both end it),
removing what its tries uploaded without committing, counting it, and waking
whoever waits for it.
"""

from __future__ import annotations

from typing import Any

import redis
from pymongo.database import Database

from app.metrics import JOBS_FAILED, MODEL_SCORE, MODELS_TRAINED
from app.storage.job_events import publish_job_finished
from app.storage.jobs import JobRepository, job_result
from app.storage.models import ModelRepository
from app.storage.outputs import OutputStore


class JobOutcomes:
    """Ends jobs of one database, notifying through one Redis."""

    def __init__(self, db: Database, redis_client: redis.Redis) -> None:
        self.jobs, self.models = JobRepository(db), ModelRepository(db)
        self.outputs = OutputStore(db)
        self.redis = redis_client

    def fail(
        self, job_id: str, error_type: str, message: str, attempt: int | None = None
    ) -> dict[str, Any] | None:
        """End ``job_id`` failed (``cancelled`` for that type); the ended job, or None if it
        had already ended. With ``attempt`` the write is fenced: it happens only while that
        attempt owns the job, and otherwise only that attempt's upload is removed."""
        ended = self.jobs.fail(job_id, error_type, message, attempt)
        if ended is None and attempt is not None:
            self.models.discard_try(job_id, attempt)  # another attempt may still be working
            self.outputs.discard(job_id, range(attempt, attempt + 1))
        else:
            attempts = ended["attempts"] if ended else self._attempts(job_id)
            self.models.discard_uncommitted(job_id, attempts)
            self.outputs.discard(job_id, range(1, attempts + 1))
        if ended is not None:
            JOBS_FAILED.labels(error_type).inc()
            publish_job_finished(self.redis, job_id)
        return ended

    def succeed(
        self, job_id: str, model: dict[str, Any], attempt: int | None = None
    ) -> dict[str, Any] | None:
        """End ``job_id`` succeeded with its committed ``model``: the ended job, or None if
        it had already ended (fenced by ``attempt`` when given)."""
        ended = self.jobs.finish(job_id, "succeeded", attempt, result=job_result(model), error=None)
        if ended is not None:
            MODELS_TRAINED.labels(model["algorithm"]).inc()
            if model.get("score") is not None:
                MODEL_SCORE.labels(model["name"]).set(model["score"])
            publish_job_finished(self.redis, job_id)
        return ended

    def succeed_with(
        self, job_id: str, result: dict[str, Any], attempt: int | None = None
    ) -> dict[str, Any] | None:
        """End a job that makes no model (a batch prediction, a search trial) succeeded
        with ``result``: the ended job, or None if it had already ended (fenced by
        ``attempt``). Output files of other tries than the one ``result`` names go."""
        ended = self.jobs.finish(job_id, "succeeded", attempt, result=result, error=None)
        if ended is not None:
            keep = (result.get("output") or {}).get("file_id")
            self.outputs.discard(job_id, range(1, int(ended["attempts"]) + 1), keep=keep)
            publish_job_finished(self.redis, job_id)
        return ended

    def _attempts(self, job_id: str) -> int:
        job = self.jobs.find(job_id)
        return int(job["attempts"]) if job else 0
