"""``Server-Timing: app;dur=<ms>`` on every UI answer: the time this process spent on it,
from the first request hook (who is calling, rate limits) to the rendered page."""

from __future__ import annotations

import time

from flask import Flask, g, request
from werkzeug.wrappers import Response


def _start() -> None:
    g.ui_started = time.perf_counter()


def _stamp(response: Response) -> Response:
    started = g.get("ui_started")
    if started is not None and request.blueprint == "web":
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return response


def install(app: Flask) -> None:
    """Time every request from before the first hook ``create_app`` installed."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_stamp)
