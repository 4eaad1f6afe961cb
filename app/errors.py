"""Domain errors of TensorFleet, free of Flask and Celery.

Every error carries a stable machine-readable ``code``, a human ``message`` and
``details`` (a JSON-able dict). The API maps them to
``{"error": {"code", "message", "details"}}`` with ``http_status``; the worker
records ``job_error_type`` on a failed job.

    TensorFleetError            500 internal
    ├── ValidationError         400 validation_error   (bad request field)
    │   └── DataError           400 invalid_data       (dataset content unusable)
    ├── AuthenticationError     401 unauthorized       (no key, or a wrong, expired, revoked one)
    ├── PermissionDeniedError   403 forbidden          (the key lacks the scope)
    ├── NotFoundError           404 not_found
    ├── ConflictError           409 conflict
    │   └── IntegrityError      409 integrity_error    (a stored file fails its signature)
    ├── UnprocessableError      422 unprocessable      (e.g. an Idempotency-Key reused)
    ├── PayloadTooLargeError    413 payload_too_large  (too many rows to predict at once)
    ├── UnsupportedMediaError   415 unsupported_media_type
    ├── ServiceUnavailableError 503 service_unavailable (Redis or MongoDB down)
    ├── ResourceLimitError      (worker only: a job outgrew JOB_MEMORY_LIMIT_MB)
    └── JobCancelled            (worker only: a cancel request was seen)

``headers`` are HTTP headers the answer carries (e.g. ``WWW-Authenticate``).
"""

from __future__ import annotations

from typing import Any


class TensorFleetError(Exception):
    """Base of every error TensorFleet raises on purpose."""

    code = "internal"
    http_status = 500
    job_error_type = "internal"

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class ValidationError(TensorFleetError):
    """A request field is missing, of the wrong type or out of range."""

    code = "validation_error"
    http_status = 400
    job_error_type = "validation"


class DataError(ValidationError):
    """A dataset's content cannot be used (ragged rows, one class, ...)."""

    code = "invalid_data"
    job_error_type = "data"


class PayloadTooLargeError(TensorFleetError):
    """The request asks for more than a request may (e.g. rows to predict)."""

    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaError(TensorFleetError):
    """The request body is not of a media type the endpoint accepts."""

    code = "unsupported_media_type"
    http_status = 415
    job_error_type = "validation"


class AuthenticationError(TensorFleetError):
    """No API key was sent, or the one sent is unknown, expired or revoked."""

    code = "unauthorized"
    http_status = 401


class PermissionDeniedError(TensorFleetError):
    """The API key is valid but lacks the scope the route needs."""

    code = "forbidden"
    http_status = 403


class UnprocessableError(TensorFleetError):
    """The request is well-formed but cannot be processed as sent."""

    code = "unprocessable"
    http_status = 422


class TooManyRequestsError(TensorFleetError):
    """A rate limit was reached (429, with ``Retry-After``)."""

    code = "too_many_requests"
    http_status = 429


class NotFoundError(TensorFleetError):
    """The named resource does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(TensorFleetError):
    """The resource is in a state that forbids the request."""

    code = "conflict"
    http_status = 409


class IntegrityError(ConflictError):
    """A stored file does not match its signature: it was changed outside TensorFleet."""

    code = "integrity_error"
    job_error_type = "integrity"


class ServiceUnavailableError(TensorFleetError):
    """A backing service (Redis, MongoDB) cannot be reached."""

    code = "service_unavailable"
    http_status = 503


class ResourceLimitError(TensorFleetError):
    """A job needed more memory than ``JOB_MEMORY_LIMIT_MB`` allows."""

    code = "resources"
    http_status = 409
    job_error_type = "resources"


class JobCancelled(TensorFleetError):
    """Raised inside a training run when its job was asked to stop."""

    code = "cancelled"
    http_status = 409
    job_error_type = "cancelled"
