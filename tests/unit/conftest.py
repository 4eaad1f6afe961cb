"""Fast fixtures: mongomock for MongoDB (with GridFS), fakeredis for Redis, no servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import mongomock
import mongomock.gridfs
import pytest
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient
from pymongo.database import Database

from app import create_app
from app.config import Settings, make_settings
from app.ingest import load_builtin_datasets
from app.storage.mongo import ensure_indexes
from app.tasks.celery_app import create_celery

mongomock.gridfs.enable_gridfs_integration()
DATASETS = Path(__file__).resolve().parents[2] / "datasets"


@pytest.fixture
def settings() -> Settings:
    """Settings pointing nowhere real (nothing may connect in unit tests)."""
    return make_settings({"redis_url": "memory://", "mongodb_url": "mongodb://127.0.0.1:1"})


@pytest.fixture
def db() -> Database:
    """An empty mongomock database with TensorFleet's indexes."""
    database = mongomock.MongoClient(tz_aware=True)["tensorfleet"]
    ensure_indexes(database)
    return database


@pytest.fixture(scope="session")
def _builtin_db() -> Database:
    database = mongomock.MongoClient(tz_aware=True)["tensorfleet"]
    ensure_indexes(database)
    load_builtin_datasets(database)
    return database


@pytest.fixture
def loaded_db(db: Database, _builtin_db: Database) -> Database:
    """A fresh database holding the built-in datasets (copied from a session-wide load)."""
    for name in ("datasets", "fs.files", "fs.chunks"):
        docs = list(_builtin_db[name].find())
        if docs:
            db[name].insert_many(docs)
    return db


@pytest.fixture
def redis() -> fakeredis.FakeRedis:
    """An in-memory Redis."""
    return fakeredis.FakeRedis()


class RecordingCelery(Celery):
    """A Celery app whose ``send_task`` records messages instead of publishing them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[dict[str, Any]] = []
        self.fail_with: Exception | None = None

    def send_task(self, name: str, args: Any = None, **options: Any) -> None:  # type: ignore[override]
        """Record or raise ``fail_with`` (to play a broker that is down)."""
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append({"name": name, "args": args, **options})


@pytest.fixture
def celery(settings: Settings) -> RecordingCelery:
    """The real Celery configuration with publishing recorded."""
    app = create_celery(settings)
    recording = RecordingCelery("tensorfleet")
    recording.conf.update(app.conf)
    recording.settings = settings  # type: ignore[attr-defined]
    return recording


@pytest.fixture
def app(settings: Settings, loaded_db: Database, redis: Any, celery: RecordingCelery) -> Flask:
    """The Flask app on mongomock + fakeredis, built-in datasets loaded."""
    overrides = settings.model_dump()
    application = create_app(overrides, db=loaded_db, redis=redis, celery=celery)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client of ``app``."""
    with app.test_client() as test_client:
        yield test_client
