"""TensorFleet: train scikit-learn models asynchronously on a fleet of Celery workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import FileStorage

from app.config import make_settings
from app.serving.cache import ModelCache, ReferenceCache
from app.serving.prediction_log import PredictionLog
from app.storage.mongo import get_database
from app.storage.signing import Signer


class JSONProvider(DefaultJSONProvider):
    """ISO-8601 datetimes and string ObjectIds in every response."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat().replace("+00:00", "Z")
        if isinstance(o, ObjectId):
            return str(o)
        if isinstance(o, FileStorage):  # an upload inside spectree's form-validation errors
            return o.filename
        return super().default(o)


def create_app(overrides: dict[str, Any] | None = None, **services: Any) -> Flask:
    """The Flask application: settings from the environment, then ``overrides``.

    ``services`` may inject ``db``, ``redis`` or ``celery`` (tests use mongomock
    and fakeredis); by default each is built from the settings. Refuses to start
    without ``ARTIFACT_SIGNING_KEY``: every stored file is signed.
    """
    from app.api import register_api
    from app.auth import install_security
    from app.tasks.celery_app import create_celery

    settings = make_settings(overrides)
    app = Flask(__name__, static_folder=None)
    app.json = JSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = int(settings.max_upload_mb * 1024 * 1024)
    app.extensions["tensorfleet.settings"] = settings
    app.extensions["tensorfleet.signer"] = Signer.from_settings(settings)
    app.extensions["tensorfleet.model_cache"] = ModelCache(int(settings.model_cache_mb * 2**20))
    app.extensions["tensorfleet.references"] = ReferenceCache(ttl=1.0)
    injected_db = services.get("db")
    app.extensions["tensorfleet.prediction_log"] = PredictionLog(
        settings, lambda: injected_db if injected_db is not None else get_database(settings)
    )
    app.extensions["tensorfleet.celery"] = services.get("celery") or create_celery(settings)
    app.extensions["tensorfleet.db"] = services.get("db")
    app.extensions["tensorfleet.redis"] = services.get("redis")
    install_security(app)  # first: every request is identified, limited and checked
    register_api(app)
    return app
