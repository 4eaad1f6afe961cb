"""The prediction log of a serving process: sampled, buffered, written in batches off-thread.

``record`` only appends to a bounded in-memory buffer (microseconds); a daemon thread,
started on first use in each process (so after gunicorn forks), inserts the buffer into
MongoDB every ``FLUSH_SECONDS`` or as soon as ``PREDICTION_LOG_BATCH`` records wait. A
slow or unreachable MongoDB never slows or fails a prediction: when the buffer is full
the oldest records are dropped, and every drop and failed insert is counted
(``tensorfleet_prediction_log_records_total``).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.config import Settings
from app.metrics import PREDICTION_LOG_RECORDS
from app.storage.mongo import utcnow
from app.storage.predictions import PredictionRepository

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
BUFFER_LIMIT = 20_000  # records kept while MongoDB is away; the oldest go first
ROWS_PER_RECORD = 100  # inputs and outputs kept of one request's rows


class PredictionLog:
    """Buffers prediction records and writes them in batches from a background thread."""

    def __init__(self, settings: Settings, database: Callable[[], Database]) -> None:
        self.sample = settings.prediction_log_sample
        self.retention = timedelta(days=settings.prediction_log_days)
        self.batch = settings.prediction_log_batch
        self._database = database
        self._buffer: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def sampled(self) -> bool:
        """Whether this request is one the log records (``PREDICTION_LOG_SAMPLE``)."""
        return self.sample >= 1 or (self.sample > 0 and random.random() < self.sample)

    def record(self, entry: dict[str, Any]) -> None:
        """Queue one record (``at`` and ``expires_at`` are added); never blocks on MongoDB."""
        now = utcnow()
        entry = {**entry, "at": now, "expires_at": now + self.retention}
        with self._lock:
            self._buffer.append(entry)
            if len(self._buffer) > BUFFER_LIMIT:
                self._buffer.popleft()
                PREDICTION_LOG_RECORDS.labels("dropped").inc()
            waiting = len(self._buffer)
        self._ensure_thread()
        if waiting >= self.batch:
            self._wake.set()

    def flush(self) -> int:
        """Insert what is buffered now, in batches; how many records were written."""
        written = 0
        while batch := self._take():
            try:
                PredictionRepository(self._database()).insert_many(batch)
            except PyMongoError as exc:
                self._put_back(batch)
                PREDICTION_LOG_RECORDS.labels("insert_failed").inc(len(batch))
                log.warning("prediction log: insert of %d records failed: %s", len(batch), exc)
                break
            PREDICTION_LOG_RECORDS.labels("written").inc(len(batch))
            written += len(batch)
        return written

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            count = min(self.batch, len(self._buffer))
            return [self._buffer.popleft() for _ in range(count)]

    def _put_back(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > BUFFER_LIMIT:
                self._buffer.popleft()
                PREDICTION_LOG_RECORDS.labels("dropped").inc()

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None:
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the writer thread must survive anything
                log.exception("prediction log: flush failed")
