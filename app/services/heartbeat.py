"""A run's heartbeat: renews its job's lease from a background thread while it works.

The thread keeps beating during long native ``fit`` calls (scikit-learn and
NumPy release the GIL in their heavy loops). When a renewal finds that the
attempt no longer owns the job, ``lost`` is set and the run stops at its next
check without writing anything more.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from pymongo.errors import PyMongoError

from app.storage.leases import JobLeases

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This run no longer owns its job (the supervisor requeued it, or another run took it)."""


class Heartbeat:
    """Renews the lease of ``(job_id, attempt)`` every ``every`` seconds until stopped."""

    def __init__(
        self, leases: JobLeases, job_id: str, attempt: int, seconds: float, every: float
    ) -> None:
        self._leases, self._job_id, self._attempt = leases, job_id, attempt
        self._seconds, self._every = seconds, every
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 1)

    def check(self) -> None:
        """Raise LeaseLost if a renewal found the job taken from this run."""
        if self.lost.is_set():
            raise LeaseLost(f"job {self._job_id}: attempt {self._attempt} lost its lease")

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                owned = self._leases.renew(self._job_id, self._attempt, self._seconds)
            except PyMongoError as exc:  # transient: the lease may still hold; try again
                log.warning("heartbeat of job %s failed: %s", self._job_id, exc)
                continue
            if not owned:
                self.lost.set()
                return
