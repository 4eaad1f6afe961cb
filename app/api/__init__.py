"""The HTTP API: one blueprint per resource under ``/api/v1``, health at the root."""

from __future__ import annotations

from flask import Flask, redirect, request
from werkzeug.wrappers import Response

from app.api import algorithms, datasets, health, jobs, models
from app.api.errors import register_error_handlers
from app.api.metrics import install_metrics
from app.api.spec import spec
from app.errors import ValidationError


def reject_malformed_json() -> None:
    """A JSON body that does not parse is a 400 of its own, not a missing-field error."""
    if request.is_json and request.content_length and request.get_json(silent=True) is None:
        raise ValidationError("The request body is not valid JSON.", {"field": "body"})


def docs_home() -> Response:
    """``/`` and ``/api/v1/docs`` lead to the interactive API docs."""
    return redirect("/api/v1/docs/swagger/")


def register_api(app: Flask) -> None:
    """Register blueprints, error handlers, metrics and the OpenAPI docs on ``app``."""
    for module in (jobs, datasets, models, algorithms, health):
        app.register_blueprint(module.bp)
    app.before_request(reject_malformed_json)
    register_error_handlers(app)
    install_metrics(app)
    spec.register(app)
    app.add_url_rule("/", "docs_home", docs_home)
    app.add_url_rule("/api/v1/docs", "docs_redirect", docs_home)
