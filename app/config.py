"""All settings, read from environment variables (twelve-factor).

One object, ``Settings``; every field is documented here and in the README's
configuration table. Layers: the defaults below, then the environment (and a
``.env`` file if present), then explicit overrides passed to ``create_app``.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

QUEUE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"  # a Redis key Celery can route to
SUPERVISOR_QUEUE = "supervisor"  # the supervisor's ticks: served by the beat process itself


class Settings(BaseSettings):
    """TensorFleet configuration; field names are the upper-cased env vars."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker and result backend."
    )
    mongodb_url: str = Field(
        "mongodb://127.0.0.1:27017", description="MongoDB, the system of record."
    )
    mongodb_db: str = Field("tensorfleet", description="Database name inside MongoDB.")
    max_upload_mb: float = Field(
        100.0, gt=0, description="Largest dataset upload accepted (413 above)."
    )
    job_soft_time_limit: int = Field(
        1800, gt=0, description="Seconds before a job is asked to stop (timeout)."
    )
    job_hard_time_limit: int = Field(
        1860, gt=0, description="Seconds before a job's process is killed."
    )
    max_job_attempts: int = Field(
        3, ge=1, description="Deliveries before a job that kills workers fails."
    )
    result_expires: int = Field(
        3600, gt=0, description="Seconds Celery keeps task results in Redis."
    )
    model_compression: int = Field(
        3, ge=0, le=9, description="joblib compression level of model artifacts."
    )
    service_timeout_ms: int = Field(
        2000, gt=0, description="Connect and server-selection timeout to Redis and MongoDB."
    )
    redis_socket_timeout: float = Field(
        5.0, gt=0, description="Seconds a Redis command may take before it fails."
    )
    mongodb_socket_timeout_ms: int = Field(
        5_000, gt=0, description="Milliseconds a MongoDB operation may take before it fails."
    )
    lease_seconds: float = Field(
        20.0,
        gt=0,
        description="A running job's lease: without a heartbeat for this long,"
        " its worker counts as gone and the supervisor requeues the job.",
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often a running job renews its lease."
    )
    supervisor_interval_seconds: float = Field(
        5.0, gt=0, description="How often beat runs the supervisor's checks."
    )
    republish_after_seconds: float = Field(
        60.0,
        gt=0,
        description="A queued job whose message is gone from Redis this long is published again.",
    )
    training_queue: str = Field(
        "training",
        pattern=QUEUE_NAME,
        description="The queue of training jobs (and their ONNX exports).",
    )
    search_queue: str = Field(
        "search", pattern=QUEUE_NAME, description="The queue of searches' trials."
    )
    prediction_queue: str = Field(
        "prediction", pattern=QUEUE_NAME, description="The queue of batch prediction jobs."
    )
    worker_queues: str = Field(
        "",
        description="The queues a worker started without -Q consumes, comma-separated,"
        " among TRAINING_QUEUE, PREDICTION_QUEUE and SEARCH_QUEUE (empty: all three):"
        " give each pool of workers some of them to scale it on its own.",
    )
    worker_shutdown_grace_seconds: float = Field(
        60.0,
        ge=0,
        description="On SIGTERM/SIGINT a worker lets its running job finish this"
        " long, then hands it back to the queue.",
    )
    job_memory_limit_mb: int = Field(
        4096,
        ge=0,
        description="Memory a job's training may add to its process (RLIMIT_AS);"
        " 0: no limit. Over it, the job fails with a 'resources' error.",
    )
    transient_retries: int = Field(
        20,
        ge=0,
        description="Times a job's task is retried when MongoDB or Redis is briefly"
        " unavailable, with growing delays.",
    )
    metrics_port: int = Field(
        9100, ge=0, le=65535, description="Port of a worker's Prometheus endpoint (0: none)."
    )
    metrics_addr: str = Field("0.0.0.0", description="Address a worker's metrics endpoint binds.")
    prometheus_multiproc_dir: str | None = Field(
        None,
        description="Directory shared by the processes of one API or worker for their metrics"
        " (prometheus-client multiprocess mode); a worker makes a private one when unset.",
    )
    api_bind: str = Field("0.0.0.0:8000", description="Address gunicorn listens on.")
    api_workers: int = Field(2, ge=1, le=64, description="gunicorn worker processes.")
    api_threads: int = Field(
        8, ge=1, le=256, description="Threads per gunicorn worker (long polls wait in one)."
    )
    api_access_log: str = Field("-", description="gunicorn access log ('-': stdout).")
    tensorfleet_admin_key: SecretStr | None = Field(
        None,
        min_length=32,
        description="An admin API key accepted from the environment (bootstrap; unset: none).",
    )
    artifact_signing_key: SecretStr | None = Field(
        None,
        min_length=32,
        description="HMAC-SHA256 secret signing every stored file; required by the API, workers"
        " and bootstrap. Never stored in MongoDB.",
    )
    rate_limit_writes: str = Field(
        "120/minute",
        description="Mutating requests (submits, uploads, deletes) per API key, or per client"
        " address without one (Flask-Limiter notation, e.g. '60/minute;1000/hour').",
    )
    rate_limit_reads: str = Field(
        "1200/minute", description="GET requests per API key (or client address)."
    )
    rate_limit_predictions: str = Field(
        "1000/second",
        description="Prediction requests (online and v2) per API key (or client address).",
    )
    rate_limits_enabled: bool = Field(True, description="Turn rate limiting off entirely.")
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the API whose X-Forwarded-For is trusted for the"
        " client address (0: use the TCP peer).",
    )
    model_cache_mb: float = Field(
        512.0, gt=0, description="Bytes of models each serving process keeps loaded (LRU)."
    )
    predict_max_rows: int = Field(
        10_000, ge=1, le=1_000_000, description="Rows one prediction request may carry (413)."
    )
    onnx_export: bool = Field(
        True, description="Convert each trained pipeline to ONNX (kept only if parity passes)."
    )
    onnx_inline_max_mb: float = Field(
        2.0,
        ge=0,
        description="Models up to this size are converted inside their training job; bigger"
        " ones by a task right after it.",
    )
    prediction_log_sample: float = Field(
        1.0, ge=0, le=1, description="Share of online prediction requests recorded (0 = none)."
    )
    prediction_log_days: float = Field(
        30, gt=0, description="Days a recorded prediction is kept (a TTL index)."
    )
    prediction_log_batch: int = Field(
        200, ge=1, le=10_000, description="Records the prediction log inserts at a time."
    )
    drift_max_rows: int = Field(
        100_000,
        ge=30,
        le=10_000_000,
        description="Newest logged input rows a drift check compares with the training rows.",
    )
    batch_predict_chunk_rows: int = Field(
        50_000, ge=100, le=10_000_000, description="Rows a batch prediction job scores at a time."
    )
    protected_aliases: str = Field(
        "champion,production",
        description="Comma-separated aliases only an admin key may move or remove.",
    )
    idempotency_hours: float = Field(
        24, gt=0, description="How long an Idempotency-Key and its response are kept."
    )

    @field_validator("rate_limit_writes", "rate_limit_reads", "rate_limit_predictions")
    @classmethod
    def _parse_limits(cls, value: str) -> str:
        """A limit string Flask-Limiter understands (``limits`` parses it)."""
        from limits import parse_many

        parse_many(value)  # ValueError for a malformed limit
        return value

    @model_validator(mode="after")
    def _distinct_queues(self) -> Settings:
        """Each kind of work has a queue of its own, none the supervisor's."""
        names = [self.training_queue, self.search_queue, self.prediction_queue]
        if len(set(names)) < len(names) or SUPERVISOR_QUEUE in names:
            raise ValueError(
                "TRAINING_QUEUE, SEARCH_QUEUE and PREDICTION_QUEUE must be three different"
                f" names, none of them {SUPERVISOR_QUEUE!r} (given: {', '.join(names)})."
            )
        return self

    @property
    def protected_alias_names(self) -> frozenset[str]:
        """``PROTECTED_ALIASES`` as a set."""
        return frozenset(a.strip() for a in self.protected_aliases.split(",") if a.strip())

    @property
    def ui_secret_key(self) -> bytes:
        """Signs the web UI's session cookie and CSRF tokens: derived from
        ``ARTIFACT_SIGNING_KEY`` (HMAC-SHA256 over a fixed label), so there is no second
        secret to manage, and neither reveals the other."""
        if self.artifact_signing_key is None:
            raise ValueError("ARTIFACT_SIGNING_KEY is required (it also keys the UI's sessions).")
        secret = self.artifact_signing_key.get_secret_value().encode()
        return hmac.new(secret, b"tensorfleet web ui session v1", hashlib.sha256).digest()

    @property
    def visibility_timeout(self) -> int:
        """Redis redelivers an unacked message after this; longer than any job."""
        return self.job_hard_time_limit + 300


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings read from the environment."""
    return Settings()


def make_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the environment with ``overrides`` (test or factory) on top."""
    return Settings(**(overrides or {}))
