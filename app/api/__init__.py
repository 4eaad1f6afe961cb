"""The HTTP surface of TensorFleet, in one table (JSON in and out; errors as
``{"error": {"code", "message", "details"}}``):

    method  path                                  view (module.function)
    ------  ------------------------------------  ----------------------------------
    GET     /health                               health.health
    GET     /ready                                health.ready
    GET     /metrics                              metrics.serve_metrics
    GET     /                                     docs_home → /api/v1/docs/swagger/
    GET     /api/v1/docs                          docs_home → /api/v1/docs/swagger/
    GET     /api/v1/docs/{swagger,redoc}/         interactive API docs (spectree)
    GET     /api/v1/docs/openapi.json             the OpenAPI document
    POST    /api/v1/jobs                          jobs.create_job           202 + Location
    GET     /api/v1/jobs                          jobs.list_jobs
    GET     /api/v1/jobs/<job_id>?wait=           jobs.get_job              long polling
    POST    /api/v1/jobs/<job_id>/cancel          jobs.cancel_job           202
    POST    /api/v1/datasets                      datasets.create_dataset   201 + Location
    GET     /api/v1/datasets                      datasets.list_datasets
    GET     /api/v1/datasets/<name>?version=      datasets.get_dataset
    GET     /api/v1/datasets/<name>/versions      datasets.list_dataset_versions
    GET     /api/v1/models                        models.list_models
    GET     /api/v1/models/<model_id>             models.get_model
    GET     /api/v1/models/<model_id>/download    models.download_model     streamed
    DELETE  /api/v1/models/<model_id>             models.delete_model       204
    GET     /api/v1/algorithms                    algorithms.list_algorithms_view
    GET     /api/v1/algorithms/<name>             algorithms.get_algorithm_view
    GET     /api/v1/statistics                    statistics.get_statistics

Each module is one blueprint without a prefix of its own; the prefixes are set
here, in ``BLUEPRINTS``. A test checks this table against ``app.url_map``.
"""

from __future__ import annotations

from flask import Flask, redirect, request
from werkzeug.wrappers import Response

from app.api import algorithms, datasets, health, jobs, models, statistics
from app.api.errors import register_error_handlers
from app.api.metrics import install_metrics
from app.api.spec import spec
from app.errors import ValidationError

API = "/api/v1"
BLUEPRINTS = (
    (jobs.bp, f"{API}/jobs"),
    (datasets.bp, f"{API}/datasets"),
    (models.bp, f"{API}/models"),
    (algorithms.bp, f"{API}/algorithms"),
    (statistics.bp, f"{API}/statistics"),
    (health.bp, ""),
)


def reject_malformed_json() -> None:
    """A JSON body that does not parse is a 400 of its own, not a missing-field error."""
    if request.is_json and request.content_length and request.get_json(silent=True) is None:
        raise ValidationError("The request body is not valid JSON.", {"field": "body"})


def docs_home() -> Response:
    """``/`` and ``/api/v1/docs`` lead to the interactive API docs."""
    return redirect(f"{API}/docs/swagger/")


def register_api(app: Flask) -> None:
    """Register blueprints, error handlers, metrics and the OpenAPI docs on ``app``."""
    for blueprint, prefix in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=prefix or None)
    app.before_request(reject_malformed_json)
    register_error_handlers(app)
    install_metrics(app)
    spec.register(app)
    app.add_url_rule("/", "docs_home", docs_home)
    app.add_url_rule(f"{API}/docs", "docs_redirect", docs_home)
