"""UI errors are HTML pages with the same status and message the JSON API would give.

A domain error (unknown job → 404, bad input → 400, gate refused → 409...) or an HTTP
error raised under ``/ui/`` renders ``error.html``; the JSON API's handlers
(``app.api.errors``) keep answering everything else, so its contract is unchanged.
"""

from __future__ import annotations

import logging

from flask import render_template, request
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException

from app.errors import TensorFleetError
from app.web.blueprint import bp

log = logging.getLogger(__name__)
TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def error_page(status: int, message: str) -> tuple[str, int]:
    """The error page for ``status`` with ``message``."""
    title = TITLES.get(status, "Error")
    return render_template("error.html", status=status, title=title, message=message), status


@bp.errorhandler(TensorFleetError)
def _domain_error(error: TensorFleetError) -> tuple[str, int]:
    return error_page(error.http_status, error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    if error.code is not None and error.code < 400:
        return error  # redirects stay redirects
    return error_page(error.code or 500, error.description or error.name)


@bp.errorhandler(ConnectionFailure)
def _store_down(error: ConnectionFailure) -> tuple[str, int]:
    log.warning("MongoDB unreachable during %s %s: %s", request.method, request.path, error)
    return error_page(503, "MongoDB is unreachable; try again in a moment.")


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_page(500, "Something went wrong on our side; it has been logged.")


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown: str) -> tuple[str, int]:
    """Any other path under ``/ui/``: an HTML 404."""
    return error_page(404, f"There is no page at /ui/{unknown}.")
