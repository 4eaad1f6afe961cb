"""Fast fixtures: mongomock for MongoDB (with GridFS), fakeredis for Redis, no servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import mongomock
import mongomock.gridfs
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pymongo.database import Database

from app import create_app
from app.config import Settings, make_settings
from app.services.batch_predictions import BatchPredictionRun
from app.services.datasets import load_builtin_datasets
from app.services.exports import export_onnx
from app.services.runs import TrainingRun
from app.services.trials import TrialRun
from app.storage.mongo import ensure_indexes
from app.storage.signing import Signer
from app.tasks.celery_app import TensorFleetCelery, create_celery

mongomock.gridfs.enable_gridfs_integration()
DATASETS = Path(__file__).resolve().parents[2] / "datasets"


ADMIN_KEY = "unit-test-admin-key-0123456789abcdef"
SIGNING_KEY = "unit-test-signing-key-0123456789abcdef"
SIGNER = Signer(SIGNING_KEY.encode())


@pytest.fixture
def signer() -> Signer:
    """The signer of the unit tests' signing key."""
    return SIGNER


@pytest.fixture
def settings() -> Settings:
    """Settings pointing nowhere real (nothing may connect in unit tests)."""
    return make_settings(
        {
            "redis_url": "memory://",
            "mongodb_url": "mongodb://127.0.0.1:1",
            "tensorfleet_admin_key": ADMIN_KEY,
            "artifact_signing_key": SIGNING_KEY,
        }
    )


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
    load_builtin_datasets(database, SIGNER)
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


class RecordingCelery(TensorFleetCelery):
    """A Celery app whose ``send_task`` records messages instead of publishing them."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
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
    recording = RecordingCelery(settings)
    recording.conf.update(create_celery(settings).conf)
    return recording


@pytest.fixture
def app(settings: Settings, loaded_db: Database, redis: Any, celery: RecordingCelery) -> Flask:
    """The Flask app on mongomock + fakeredis, built-in datasets loaded."""
    overrides = {
        **settings.model_dump(),
        "tensorfleet_admin_key": ADMIN_KEY,
        "artifact_signing_key": SIGNING_KEY,
    }
    application = create_app(overrides, db=loaded_db, redis=redis, celery=celery)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client of ``app`` that sends the admin key with every request."""
    with app.test_client() as test_client:
        test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_KEY}"
        yield test_client


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """A test client of ``app`` that sends no key."""
    return app.test_client()


@pytest.fixture
def run_job(loaded_db: Database, redis: Any, settings: Settings) -> Callable[..., Any]:
    """``run_job(job_id)``: one run of the job (training or batch prediction, by its kind),
    as a worker would do it."""

    def run(job_id: str, worker: str = "worker-test") -> dict[str, Any] | None:
        job = loaded_db.jobs.find_one({"_id": job_id}) or {}
        runs = {"predict": BatchPredictionRun, "trial": TrialRun}
        kind = runs.get(job.get("kind", "train"), TrainingRun)
        result = kind(loaded_db, redis, settings, job_id, worker).run()
        if kind is TrainingRun and result is not None:  # then the ONNX copy, as a worker does
            export_onnx(loaded_db, SIGNER, result["model_id"])
        return result

    return run
