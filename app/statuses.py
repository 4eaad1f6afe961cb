"""The states of a training job: one definition for the API, the store, workers and clients.

    queued ──▶ running ──▶ succeeded | failed | cancelled
      └──────────────────▶ cancelled

This module imports nothing, so the HTTP client can use it without the service's
dependencies.
"""

from __future__ import annotations

from typing import Literal, get_args

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATUSES: tuple[str, ...] = get_args(JobStatus)
ACTIVE: tuple[str, ...] = STATUSES[:2]  # may still change
FINISHED: tuple[str, ...] = STATUSES[2:]  # final: never changes again
