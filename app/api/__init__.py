"""The HTTP surface of TensorFleet, in one table (JSON in and out; errors as
``{"error": {"code", "message", "details"}}``):

    method  path                                  view (module.function)
    ------  ------------------------------------  ----------------------------------
    GET     /health                               health.health
    GET     /ready                                health.ready
    GET     /metrics                              metrics.serve_metrics
    GET     /                                     ui_home → /ui/                the web UI
    GET     /api/v1/docs                          docs_redirect → /api/v1/docs/swagger/
    GET     /api/v1/docs/{swagger,redoc}/         interactive API docs (spectree)
    GET     /api/v1/docs/openapi.json             the OpenAPI document
    GET     /api/v1/docs/assets/<name>            docs.asset                their JS and CSS
    POST    /api/v1/jobs                          jobs.create_job           202 + Location
    GET     /api/v1/jobs                          jobs.list_jobs
    GET     /api/v1/jobs/<job_id>?wait=           jobs.get_job              long polling
    POST    /api/v1/jobs/<job_id>/cancel          jobs.cancel_job           202
    GET     /api/v1/jobs/<job_id>/output          jobs.download_output      batch predictions' CSV
    POST    /api/v1/searches                      searches.create_search    202 + Location
    GET     /api/v1/searches                      searches.list_searches
    GET     /api/v1/searches/<search_id>          searches.get_search       progress, leaderboard
    GET     /api/v1/searches/<search_id>/trials   searches.list_trials      ?sort=-score
    POST    /api/v1/searches/<search_id>/cancel   searches.cancel_search    202
    POST    /api/v1/schedules                     schedules.create_schedule 201 + Location
    GET     /api/v1/schedules                     schedules.list_schedules  ?paused=
    GET     /api/v1/schedules/<schedule_id>       schedules.get_schedule    with its recent runs
    PATCH   /api/v1/schedules/<schedule_id>       schedules.update_schedule pause, resume, cron
    DELETE  /api/v1/schedules/<schedule_id>       schedules.delete_schedule 204
    POST    /api/v1/datasets                      datasets.create_dataset   201 + Location
    GET     /api/v1/datasets                      datasets.list_datasets
    GET     /api/v1/datasets/<name>?version=      datasets.get_dataset
    GET     /api/v1/datasets/<name>/versions      datasets.list_dataset_versions
    DELETE  /api/v1/datasets/<name>?version=      datasets.delete_dataset_view  204, admin
    GET     /api/v1/models                        models.list_models
    GET     /api/v1/models/<ref>                  models.get_model          any model reference
    PATCH   /api/v1/models/<ref>                  models.patch_model        tags, description
    GET     /api/v1/models/<ref>/download         models.download_model     ?format=joblib|onnx
    DELETE  /api/v1/models/<ref>                  models.delete_model       204, admin
    GET     /api/v1/models/<name>/aliases         models.list_aliases       ?history=true
    PUT     /api/v1/models/<name>/aliases/<alias> models.put_alias          move, gate
    DELETE  /api/v1/models/<name>/aliases/<alias> models.delete_alias       204
    POST    /api/v1/models/<ref>/predict          predictions.predict_rows  MLflow formats, CSV
    GET     /api/v1/models/<ref>/predictions      predictions.list_predictions  the log
    GET     /api/v1/models/<name>/monitoring      predictions.model_monitoring  drift
    GET     /api/v1/models/<ref>/drift?since=&until=  models.model_drift  inputs vs training rows
    GET     /v2/health/ready                      inference_v2.server_ready Open Inference v2
    GET     /v2/models/<name>                     inference_v2.model_metadata
    GET     /v2/models/<name>/ready               inference_v2.model_ready
    POST    /v2/models/<name>/infer               inference_v2.infer
    POST    /v2/models/<name>/versions/<version>/infer  inference_v2.infer_version
    GET     /api/v1/algorithms                    algorithms.list_algorithms_view
    GET     /api/v1/algorithms/<name>             algorithms.get_algorithm_view
    GET     /api/v1/statistics                    statistics.get_statistics
    POST    /api/v1/keys                          keys.create_key           201, admin
    GET     /api/v1/keys                          keys.list_keys            admin
    GET     /api/v1/keys/<key_id>                 keys.get_key              admin
    DELETE  /api/v1/keys/<key_id>                 keys.revoke_key           204, admin
    GET     /api/v1/audit                         audit.list_audit          admin

The web UI (HTML, ``app.web``; a session cookie from its login form, CSRF on forms):

    GET     /ui/login                             web.login                 asks for an API key
    POST    /ui/login                             web.login_submit
    POST    /ui/logout                            web.logout
    GET     /ui/                                  web.jobs                  filters, sort, live
    GET     /ui/jobs/new                          web.new_job               submit form, train
    POST    /ui/jobs                              web.submit_job            train
    GET     /ui/jobs/hyperparameters              web.hyperparameter_fields form fragment
    GET     /ui/jobs/progress?ids=                web.jobs_progress         polled rows
    GET     /ui/jobs/<job_id>                     web.job
    GET     /ui/jobs/<job_id>/live                web.job_live              polled fragment
    POST    /ui/jobs/<job_id>/cancel              web.cancel_job            train
    GET     /ui/models                            web.models                grouped by name
    GET     /ui/models/<ref>                      web.model                 metrics, charts
    POST    /ui/models/<ref>/alias                web.move_alias            train, gate
    POST    /ui/models/<ref>/predict              web.predict_row           predict
    GET     /ui/models/<ref>/download?format=     web.download_model
    GET     /ui/compare?ids=                      web.compare               2 to 5 models
    GET     /ui/datasets                          web.datasets
    POST    /ui/datasets                          web.upload_dataset        train
    GET     /ui/datasets/<name>?version=          web.dataset               profile, rows
    GET     /ui/searches                          web.searches
    GET     /ui/searches/<search_id>              web.search
    GET     /ui/searches/<search_id>/live         web.search_live           polled fragment
    GET     /ui/static/<path:filename>            web.static                CSS, vendored htmx
    GET     /ui/<path:unknown>                    web.not_found             HTML 404
    POST    /ui/<path:unknown>                    web.not_found

Every route needs an API key with the scope its view declares
(``security=scope(...)``, see ``app.api.spec``) except ``/health``, ``/ready``,
``/metrics``, the docs and ``/``: ``app.auth.guard.PUBLIC_ENDPOINTS``. The UI's routes
check their session instead (``app.web.session``) and mirror those scopes.

Each module is one blueprint without a prefix of its own; the prefixes are set
here, in ``BLUEPRINTS``. A test checks this table against ``app.url_map``.
"""

from __future__ import annotations

from flask import Flask, redirect
from werkzeug.wrappers import Response

from app.api import (
    algorithms,
    audit,
    datasets,
    docs,
    health,
    inference_v2,
    jobs,
    keys,
    models,
    predictions,
    schedules,
    searches,
    statistics,
)
from app.api.bodies import check_request_body
from app.api.errors import register_error_handlers
from app.api.metrics import install_metrics
from app.api.spec import spec

API = "/api/v1"
BLUEPRINTS = (
    (jobs.bp, f"{API}/jobs"),
    (searches.bp, f"{API}/searches"),
    (schedules.bp, f"{API}/schedules"),
    (datasets.bp, f"{API}/datasets"),
    (models.bp, f"{API}/models"),
    (predictions.bp, f"{API}/models"),
    (inference_v2.bp, "/v2"),
    (algorithms.bp, f"{API}/algorithms"),
    (statistics.bp, f"{API}/statistics"),
    (keys.bp, f"{API}/keys"),
    (audit.bp, f"{API}/audit"),
    (health.bp, ""),
    (docs.bp, ""),
)


def docs_home() -> Response:
    """``/api/v1/docs`` leads to the interactive API docs."""
    return redirect(f"{API}/docs/swagger/")


def ui_home() -> Response:
    """``/`` leads to the web UI (which asks for a key first)."""
    return redirect("/ui/")


def register_api(app: Flask) -> None:
    """Register blueprints, error handlers, metrics, the OpenAPI docs and the UI on ``app``."""
    from app.web import register_web  # here: the UI's views import ``app.api.context``

    for blueprint, prefix in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=prefix or None)
    app.before_request(check_request_body)
    register_error_handlers(app)
    install_metrics(app)
    spec.register(app)
    app.add_url_rule("/", "ui_home", ui_home)
    app.add_url_rule(f"{API}/docs", "docs_redirect", docs_home)
    register_web(app)
