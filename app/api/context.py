"""Per-request access to the app's services (set up once in ``create_app``)."""

from __future__ import annotations

from typing import Any, cast

import redis
from celery import Celery
from flask import current_app, g, request
from pymongo.database import Database

from app.config import Settings
from app.services.keys import Principal
from app.services.predictions import Serving
from app.serving.cache import ModelCache, ReferenceCache
from app.serving.prediction_log import PredictionLog
from app.storage.mongo import get_database
from app.storage.redis import get_redis
from app.storage.signing import Signer


def settings() -> Settings:
    """The settings of the running app."""
    return current_app.extensions["tensorfleet.settings"]


def db() -> Database:
    """The MongoDB database: one client per process, or the one injected by tests."""
    injected = current_app.extensions.get("tensorfleet.db")
    return injected if injected is not None else get_database(settings())


def signer() -> Signer:
    """Signs and verifies stored files with ``ARTIFACT_SIGNING_KEY``."""
    return current_app.extensions["tensorfleet.signer"]


def model_cache() -> ModelCache:
    """This process's cache of loaded models."""
    return current_app.extensions["tensorfleet.model_cache"]


def prediction_log() -> PredictionLog:
    """This process's prediction log (buffered, written off the request thread)."""
    return current_app.extensions["tensorfleet.prediction_log"]


def references() -> ReferenceCache:
    """This process's model references resolved within the last second."""
    return current_app.extensions["tensorfleet.references"]


def serving() -> Serving:
    """What this process predicts with (store, signing key, model cache, prediction log)."""
    return Serving(db(), signer(), model_cache(), prediction_log(), references())


def celery() -> Celery:
    """The Celery app used to publish tasks and revoke them."""
    return current_app.extensions["tensorfleet.celery"]


def redis_client() -> redis.Redis:
    """Redis for job-end notifications: one client per process, or the one injected by tests."""
    injected = current_app.extensions.get("tensorfleet.redis")
    return injected if injected is not None else get_redis(settings())


def parsed() -> Any:
    """The request parts spectree validated: ``.json``, ``.query``, ``.form`` (pydantic)."""
    return cast(Any, request).context


def principal() -> Principal | None:
    """Who this request acts as (set by ``app.auth.identity``; None without a valid key)."""
    return g.get("principal")


def request_id() -> str:
    """This request's id (``X-Request-ID``), set by ``app.auth.identity``."""
    return str(g.get("request_id", ""))
