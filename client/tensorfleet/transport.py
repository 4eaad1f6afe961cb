"""The HTTP layer of the client: one ``requests.Session`` with the API key, bounded retries,
and every answer that is not a success turned into a typed error (:mod:`tensorfleet.errors`).

Retried, with exponential backoff (jittered, capped) and at most ``RetryPolicy.retries``
times: a ``503 Service Unavailable`` (waiting what its ``Retry-After`` asks, unless that is
more than ``max_retry_after``), a connection that fails or drops, and a connect timeout.
Only requests that are safe to send twice are retried: GET, HEAD, PUT, DELETE, a POST that
carries an ``Idempotency-Key`` (the server answers a repeat with the first answer) and the
calls that only read (predictions). A read timeout is not retried: a server that is slow
once is slow again, and the caller's timeout would be multiplied.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from tensorfleet._version import __version__
from tensorfleet.errors import (
    APIError,
    RequestTimeoutError,
    UnexpectedResponseError,
    UnreachableError,
)

DEFAULT_URL = "http://127.0.0.1:8000"  # the API of `make run`
API_PREFIX = "/api/v1"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({503})
SNIPPET = 200  # characters of an unexpected body kept in the error
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: ``retries`` more attempts at most; the n-th waits
    ``backoff * 2**n`` s (between half and all of it, capped at ``max_backoff``), or what a
    503's ``Retry-After`` asks when that is at most ``max_retry_after`` (else no retry)."""

    retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (from 0)."""
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def retry_after(self, response: requests.Response) -> float | None:
        """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), or None."""
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


NO_RETRIES = RetryPolicy(retries=0)


def normalize_base_url(url: str) -> str:
    """``url`` without a trailing ``/`` or ``/api/v1``; ValueError unless it is an http(s)
    URL with a host (``127.0.0.1:8000`` lacks its scheme)."""
    text = (url or "").strip().rstrip("/")
    if text.endswith(API_PREFIX):
        text = text[: -len(API_PREFIX)]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL with a host: {url!r} (e.g. {DEFAULT_URL})")
    return text


def _reason(error: requests.RequestException) -> str:
    """A short account of a transport failure: ``Connection refused``, ``Name or service
    not known``, ``connection closed without an answer`` …"""
    text = str(error)
    found = _ERRNO.search(text)
    if found:
        return found[1].strip()
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed without an answer"
    if "NameResolutionError" in text or "getaddrinfo" in text:
        return "unknown host"
    return " ".join(text.split())[:SNIPPET]


def _rewinder(kwargs: dict[str, Any]) -> Callable[[], None] | None:
    """A function putting the request's file bodies back where they started (so a retry
    sends them whole), or None when one of them cannot be rewound."""
    parts = (kwargs.get("files") or {}).values()
    handles = [part[1] if isinstance(part, tuple) else part for part in parts]
    if hasattr(kwargs.get("data"), "read"):
        handles.append(kwargs["data"])
    starts = []
    for handle in handles:
        try:
            if not handle.seekable():
                return None
            starts.append((handle, handle.tell()))
        except (AttributeError, OSError, ValueError):
            return None

    def rewind() -> None:
        for handle, start in starts:
            handle.seek(start)

    return rewind


class Transport:
    """Sends requests to one deployment: ``base_url`` (``http://host:port``), an API key
    sent as ``Authorization: Bearer``, a default ``timeout`` per request, a
    :class:`RetryPolicy`. ``session`` may be given (e.g. mounted with a test adapter)."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.session = session or requests.Session()
        if self.session.headers.get("User-Agent") == requests.utils.default_user_agent():
            self.session.headers["User-Agent"] = f"tensorfleet-client/{__version__}"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        self.retry = retry or RetryPolicy()

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def _url(self, path: str, api: bool = True) -> str:
        return f"{self.base_url}{API_PREFIX if api else ''}{path}"

    def _call(
        self, method: str, path: str, *, retry: bool | None = None, api: bool = True, **kwargs: Any
    ) -> requests.Response:
        """``method`` ``/api/v1{path}`` (``api=False``: ``{path}`` from the root); the
        response of a success, else :class:`APIError` or :class:`UnexpectedResponseError`;
        :class:`UnreachableError` when no answer came. ``retry`` overrides whether the
        request is safe to send again (by default: an idempotent method or an
        ``Idempotency-Key``)."""
        kwargs.setdefault("timeout", self.timeout)
        url = self._url(path, api)
        if retry is None:
            retry = method in IDEMPOTENT_METHODS or "Idempotency-Key" in (
                kwargs.get("headers") or {}
            )
        rewind = _rewinder(kwargs) if retry else None
        attempts = self.retry.retries if retry and rewind is not None else 0
        for attempt in range(attempts + 1):
            last = attempt == attempts
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.ConnectTimeout as exc:
                if last:
                    raise RequestTimeoutError(self.base_url, _seconds(kwargs)) from exc
                wait = self.retry.delay(attempt)
            except requests.Timeout as exc:  # a read timeout: not retried
                raise RequestTimeoutError(self.base_url, _seconds(kwargs)) from exc
            except requests.ConnectionError as exc:
                if last:
                    raise UnreachableError(self.base_url, _reason(exc)) from exc
                wait = self.retry.delay(attempt)
            else:
                if response.status_code < 400:
                    return response
                asked = self.retry.retry_after(response)
                if (
                    last
                    or response.status_code not in RETRY_STATUSES
                    or (asked is not None and asked > self.retry.max_retry_after)
                ):
                    raise self._error(response)
                response.close()
                wait = self.retry.delay(attempt) if asked is None else asked
            assert rewind is not None  # attempts > 0 only with a rewinder
            rewind()
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _error(self, response: requests.Response) -> APIError:
        """The error an error answer stands for (the response is closed)."""
        try:
            body = response.json()
            error = body["error"]
            if not isinstance(error, dict) or "code" not in error:
                raise TypeError(error)
        except (ValueError, KeyError, TypeError):
            return self._unexpected(response)
        finally:
            response.close()
        return APIError(response.status_code, error, response.url)

    def _unexpected(self, response: requests.Response) -> UnexpectedResponseError:
        try:
            snippet = " ".join(response.text[:SNIPPET].split())
        except (requests.RequestException, ValueError, RuntimeError):
            snippet = ""
        return UnexpectedResponseError(
            response.status_code,
            response.url or self.base_url,
            response.headers.get("Content-Type", ""),
            snippet,
        )

    def _json(self, response: requests.Response) -> Any:
        """The JSON body of a success; :class:`UnexpectedResponseError` if it has none."""
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(response) from None
        finally:
            response.close()


def _seconds(kwargs: dict[str, Any]) -> float:
    timeout = kwargs.get("timeout")
    if isinstance(timeout, tuple):
        return float(max(t for t in timeout if t is not None))
    return float(timeout or 0)
