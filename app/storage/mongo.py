"""The MongoDB connection (one client per process) and the indexes created at start-up."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.config import Settings
from app.errors import ServiceUnavailableError

SORTABLE_METRICS = (  # indexed, so a listing sorted by one of them needs no in-memory sort
    "test_accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "roc_auc",
    "r2",
    "rmse",
    "mae",
)
_lock = threading.Lock()
_clients: dict[tuple[int, str, int, int], MongoClient] = {}


def utcnow() -> datetime:
    """Now, timezone-aware, at MongoDB's millisecond precision."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def get_client(settings: Settings) -> MongoClient:
    """A MongoClient for this process; a forked child gets its own (pymongo is not fork-safe)."""
    key = (
        os.getpid(),
        settings.mongodb_url,
        settings.service_timeout_ms,
        settings.mongodb_socket_timeout_ms,
    )
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = MongoClient(
                settings.mongodb_url,
                tz_aware=True,
                serverSelectionTimeoutMS=settings.service_timeout_ms,
                connectTimeoutMS=settings.service_timeout_ms,
                socketTimeoutMS=settings.mongodb_socket_timeout_ms,
                appname="tensorfleet",
            )
            _clients[key] = client
        return client


def get_database(settings: Settings) -> Database:
    """The TensorFleet database of ``settings``."""
    return get_client(settings)[settings.mongodb_db]


def ping(db: Database) -> None:
    """Raise ServiceUnavailableError unless MongoDB answers."""
    try:
        db.client.admin.command("ping")
    except PyMongoError as exc:
        raise ServiceUnavailableError("MongoDB is unreachable.", {"service": "mongodb"}) from exc


def ensure_indexes(db: Database) -> None:
    """Create every index TensorFleet relies on (idempotent)."""
    db.jobs.create_index([("created_at", DESCENDING)])
    db.jobs.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
    db.jobs.create_index([("model_name", ASCENDING), ("created_at", DESCENDING)])
    db.datasets.create_index([("name", ASCENDING), ("version", ASCENDING)], unique=True)
    db.models.create_index([("name", ASCENDING), ("version", ASCENDING)], unique=True)
    db.models.create_index([("job_id", ASCENDING)], unique=True)
    db.models.create_index([("created_at", DESCENDING)])
    db.models.create_index([("algorithm", ASCENDING)])
    db.models.create_index([("dataset_name", ASCENDING)])
    db.keys.create_index([("hash", ASCENDING)], unique=True)
    db.aliases.create_index([("name", ASCENDING), ("alias", ASCENDING)])
    db.aliases.create_index([("model_id", ASCENDING)])
    db.alias_history.create_index([("name", ASCENDING), ("at", DESCENDING)])
    db.models.create_index([("name", ASCENDING), ("score", DESCENDING)])
    db.idempotency.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    db.jobs.create_index([("search_id", ASCENDING), ("trial", ASCENDING)])
    db.searches.create_index([("created_at", DESCENDING)])
    db.searches.create_index([("status", ASCENDING)])
    db.predictions.create_index([("model_id", ASCENDING), ("at", DESCENDING)])
    db.predictions.create_index([("model_name", ASCENDING), ("at", DESCENDING)])
    db.predictions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    # logged inputs as column blocks (app.storage.predictions.InputBlocks), for drift
    db.prediction_inputs.create_index([("model_id", ASCENDING), ("last_at", DESCENDING)])
    db.prediction_inputs.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    db.schedules.create_index([("name", ASCENDING)], unique=True)
    db.schedules.create_index([("paused", ASCENDING), ("next_run_at", ASCENDING)])
    db.schedule_runs.create_index([("schedule_id", ASCENDING), ("scheduled_for", DESCENDING)])
    db.schedule_runs.create_index([("outcome", ASCENDING), ("fired_at", ASCENDING)])
    db.audit.create_index([("at", DESCENDING)])
    db.audit.create_index([("key_id", ASCENDING), ("at", DESCENDING)])
    # the web UI's filters and sort orders (app.web): jobs by kind, dataset, algorithm;
    # models by their headline score or any of these metrics
    for field in ("kind", "dataset", "algorithm"):
        db.jobs.create_index([(field, ASCENDING), ("created_at", DESCENDING)])
    db.models.create_index([("score", DESCENDING)])
    for metric in SORTABLE_METRICS:
        db.models.create_index([(f"metrics.{metric}", DESCENDING)])
    # GridFS's own indexes (pymongo's GridIn would create them; ArtifactStore writes directly)
    db["fs.files"].create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
    db["fs.chunks"].create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
