"""The states of a job, as the API names them (a copy of the server's ``app.statuses``:
this package installs without the server; a test checks the two agree).

    queued ──▶ running ──▶ succeeded | failed | cancelled
      └──────────────────▶ cancelled

A search uses ``running`` and the three final states.
"""

from __future__ import annotations

STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE: tuple[str, ...] = STATUSES[:2]  # may still change
FINISHED: tuple[str, ...] = STATUSES[2:]  # final: never changes again
FAILED: tuple[str, ...] = ("failed", "cancelled")  # ended without a result
