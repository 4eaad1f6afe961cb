"""What the client raises: every error is a :class:`TensorFleetError`.

* :class:`APIError`: the API answered an error (``status``, ``code``, ``message``,
  ``details``, as in its ``{"error": {...}}`` body);
* :class:`UnexpectedResponseError` (an :class:`APIError`): something answered that is not
  the TensorFleet API (an HTML page, a proxy's error, a body that is not JSON): most likely
  a wrong URL;
* :class:`UnreachableError` (also a ``requests.ConnectionError``): no answer at all after
  the retries (server stopped, wrong port or host); :class:`RequestTimeoutError` (also a
  ``requests.Timeout``) when it did not answer in time;
* :class:`IntegrityError`, :class:`FormatError`: a download that is not what the server
  announced or what was asked for (nothing was saved).
"""

from __future__ import annotations

from typing import Any

import requests


class TensorFleetError(Exception):
    """Base of every error of this package."""


class APIError(TensorFleetError):
    """An error answer of the API: ``status``, ``code``, ``message``, ``details``."""

    def __init__(self, status: int, error: dict[str, Any], url: str | None = None) -> None:
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.code: str | None = error.get("code")
        self.message: str | None = error.get("message")
        self.details: dict[str, Any] = error.get("details") or {}
        self.url = url

    def as_body(self) -> dict[str, Any]:
        """The error as the API sends it: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class UnexpectedResponseError(APIError):
    """An answer that is not the API's JSON (``code`` ``"unexpected_response"``): an HTML
    page, a proxy's error page, a body that does not parse. ``content_type`` is what came,
    ``url`` the request's URL."""

    def __init__(self, status: int, url: str, content_type: str, snippet: str) -> None:
        kind = content_type.split(";")[0].strip() or "no content type"
        message = f"{url} answered HTTP {status} ({kind}), not the TensorFleet API's JSON"
        details = {"content_type": content_type, "body": snippet}
        super().__init__(
            status, {"code": "unexpected_response", "message": message, "details": details}, url
        )
        self.content_type = content_type


class UnreachableError(TensorFleetError, requests.ConnectionError):
    """No answer from the server (connection refused, unknown host, connection dropped),
    after the retries. ``url`` is the client's base URL, ``reason`` the last failure."""

    def __init__(self, url: str, reason: str, message: str | None = None) -> None:
        super().__init__(message or f"cannot reach the TensorFleet API at {url}: {reason}")
        self.url = url
        self.reason = reason


class RequestTimeoutError(UnreachableError, requests.Timeout):
    """The server did not answer within ``seconds``."""

    def __init__(self, url: str, seconds: float) -> None:
        reason = f"no answer within {seconds:g} s"
        super().__init__(url, reason, f"the TensorFleet API at {url} gave {reason}")
        self.seconds = seconds


class IntegrityError(TensorFleetError):
    """A downloaded file does not have the SHA-256 the server announced."""


class FormatError(TensorFleetError):
    """The server sent another file format than the one asked for (a server too old to
    know ``?format=``); nothing was saved."""
