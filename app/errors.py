"""Domain errors of TensorFleet, free of Flask and Celery.

Every error carries a stable machine-readable ``code``, a human ``message`` and
``details`` (a JSON-able dict). The API maps them to
``{"error": {"code", "message", "details"}}`` with ``http_status``; the worker
records ``job_error_type`` on a failed job.

    TensorFleetError            500 internal
    ├── ValidationError         400 validation_error   (bad request field)
    │   └── DataError           400 invalid_data       (dataset content unusable)
    ├── UnsupportedMediaError   415 unsupported_media_type
    ├── NotFoundError           404 not_found
    ├── ConflictError           409 conflict
    ├── ServiceUnavailableError 503 service_unavailable (Redis or MongoDB down)
    └── JobCancelled            (worker only: a cancel request was seen)
"""

from __future__ import annotations

from typing import Any


class TensorFleetError(Exception):
    """Base of every error TensorFleet raises on purpose."""

    code = "internal"
    http_status = 500
    job_error_type = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationError(TensorFleetError):
    """A request field is missing, of the wrong type or out of range."""

    code = "validation_error"
    http_status = 400
    job_error_type = "validation"


class DataError(ValidationError):
    """A dataset's content cannot be used (ragged rows, one class, ...)."""

    code = "invalid_data"
    job_error_type = "data"


class UnsupportedMediaError(TensorFleetError):
    """The request body is not of a media type the endpoint accepts."""

    code = "unsupported_media_type"
    http_status = 415
    job_error_type = "validation"


class NotFoundError(TensorFleetError):
    """The named resource does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(TensorFleetError):
    """The resource is in a state that forbids the request."""

    code = "conflict"
    http_status = 409


class ServiceUnavailableError(TensorFleetError):
    """A backing service (Redis, MongoDB) cannot be reached."""

    code = "service_unavailable"
    http_status = 503


class JobCancelled(TensorFleetError):
    """Raised inside a training run when its job was asked to stop."""

    code = "cancelled"
    http_status = 409
    job_error_type = "cancelled"
