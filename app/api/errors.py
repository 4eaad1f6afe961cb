"""The one place errors become JSON: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from werkzeug.exceptions import HTTPException

from app.errors import ServiceUnavailableError, TensorFleetError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: dict | None = None) -> Response:
    """A JSON error body with ``status``."""
    response = jsonify(error={"code": code, "message": message, "details": details or {}})
    response.status_code = status
    return response


def handle_domain_error(error: TensorFleetError) -> Response:
    """Domain errors carry their own status, code and headers."""
    response = error_response(error.http_status, error.code, error.message, error.details)
    response.headers.update(error.headers)
    return response


_HTTP_CODES = {413: "payload_too_large"}  # our name where werkzeug's is less plain
_BODY_HEADERS = {"content-type", "content-length"}


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug's 404/405/413…; keeps their headers such as ``Allow``."""
    status = error.code or 500
    code = _HTTP_CODES.get(status, error.name.lower().replace(" ", "_"))
    body = error_response(status, code, error.description or error.name)
    for key, value in error.get_response().headers:
        if key.lower() not in _BODY_HEADERS:
            body.headers[key] = value
    return body


def handle_mongo_down(error: Exception) -> Response:
    """MongoDB unreachable mid-request: 503, never a 500."""
    log.warning("MongoDB unreachable during %s %s: %s", request.method, request.path, error)
    return handle_domain_error(
        ServiceUnavailableError("MongoDB is unreachable.", {"service": "mongodb"})
    )


def handle_unexpected(error: Exception) -> Response:
    """Anything else is a bug: log it, answer a generic 500."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal", "Internal server error.")


def register_error_handlers(app: Flask) -> None:
    """Install every handler on ``app``."""
    app.register_error_handler(TensorFleetError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ServerSelectionTimeoutError, handle_mongo_down)
    app.register_error_handler(ConnectionFailure, handle_mongo_down)
    app.register_error_handler(Exception, handle_unexpected)
