"""Verified reads of signed GridFS files: no byte leaves before its MAC is checked.

The file document's MAC is checked at open, and the first window of chunks is
fetched and checked there too, so a tampered small file (most models) is refused
before an answer starts. Later windows are fetched by a helper thread, at most
one window ahead, while the reader checks and sends the one before, so the
database and the hashing work at once and a read holds at most three windows in
memory. (Checking in a third thread measured no faster.) Windows are bounded
(``WINDOW_BYTES``) so no server reply grows with the file (real MongoDB batches
cursors itself; the local MongoDB-compatible server does not, refuses replies
over ~48 MB, and serves 4 MiB replies fastest).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from app.errors import IntegrityError
from app.storage.signing import Signer

if TYPE_CHECKING:
    from app.storage.artifacts import ArtifactStore

WINDOW_BYTES = 4 * 1024 * 1024  # at most this much file data per server reply
AHEAD = 1  # windows the helper may fetch before the reader takes one
_POLL_SECONDS = 0.5  # how often a blocked helper checks whether the reader went away
ABANDON_SECONDS = 300.0  # a result nobody takes for this long: its reader never came

_END = object()  # the helper's last item: every result was handed on


class _Failed:
    """An exception raised in the helper thread, handed to the reader."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Prefetcher(threading.Thread):
    """A daemon thread that fetches the windows starting at ``starts`` in order, at most
    ``AHEAD`` ahead of whoever iterates over it; stops when ``stop`` is set."""

    def __init__(
        self, starts: Iterable[int], fetch: Callable[[int], list[bytes]], stop: threading.Event
    ) -> None:
        super().__init__(daemon=True)
        self._starts, self._fetch, self._stop = starts, fetch, stop
        self._done: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
        self.start()

    def run(self) -> None:
        try:
            for first in self._starts:
                if not self._put((first, self._fetch(first))):
                    return
            self._put(_END)
        except BaseException as error:  # raised again in the reader's thread
            self._put(_Failed(error))

    def _put(self, result: Any) -> bool:
        """Hand ``result`` on; False if the reader stopped or never took it."""
        deadline = time.monotonic() + ABANDON_SECONDS
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self._done.put(result, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        self._stop.set()
        return False

    def __iter__(self) -> Iterator[tuple[int, list[bytes]]]:
        """``(first chunk number, chunk data)`` of each window in order (an exception the
        fetch raised is raised here)."""
        while True:
            try:
                result = self._done.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self._stop.is_set():
                    return
                if not self.is_alive() and self._done.empty():
                    raise RuntimeError("the prefetching thread ended without its result") from None
                continue
            if result is _END:
                return
            if isinstance(result, _Failed):
                raise result.error
            yield result


class VerifiedFile:
    """One stored file, opened for a verified read."""

    def __init__(self, store: ArtifactStore, signer: Signer, doc: dict[str, Any]) -> None:
        self._store, self._signer, self.doc = store, signer, doc
        self.file_id = doc["_id"]
        self.length, self.chunk_size = int(doc["length"]), int(doc["chunkSize"])
        signature = (doc.get("metadata") or {}).get("signature") or {}
        self.sha256 = str(signature.get("sha256", ""))
        self._macs = [str(mac) for mac in signature.get("chunk_macs", [])]
        self._count = -(-self.length // self.chunk_size)
        expected = signer.file_mac(
            self.file_id, self.length, self.chunk_size, self.sha256, self._macs
        )
        if not Signer.matches(expected, signature.get("mac")) or len(self._macs) != self._count:
            raise self._tampered("its signature does not match (or it has none)")
        window = max(1, WINDOW_BYTES // self.chunk_size)
        starts = range(0, self._count, window)
        self._window, self._stop = window, threading.Event()
        self._later: _Prefetcher | None = None
        if len(starts) > 1:  # the second window loads while the first is checked
            self._later = _Prefetcher(starts[1:], self._fetch, self._stop)
        try:
            self._first = self._verify(0, self._fetch(0))  # IntegrityError before any byte
        except BaseException:
            self.close()
            raise

    def chunks(self) -> Iterator[bytes]:
        """Every chunk's data in order, each verified before it is yielded."""
        try:
            yield from self._first
            for first, window in self._later or ():
                yield from self._verify(first, window)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the fetching thread (idempotent; ``chunks`` does it when it ends, also when
        its reader goes away mid-file)."""
        self._stop.set()

    def _fetch(self, first: int) -> list[bytes]:
        """The data of chunks ``first`` … ``first + window - 1`` (fewer at the end)."""
        last = min(first + self._window, self._count)
        query = {"files_id": self.file_id, "n": {"$gte": first, "$lt": last}}
        found = list(self._store.chunks.find(query).sort("n", 1))
        if [chunk["n"] for chunk in found] != list(range(first, last)):
            raise self._tampered(f"chunks {first}..{last - 1} are not all there")
        return [bytes(chunk["data"]) for chunk in found]

    def _verify(self, first: int, datas: list[bytes]) -> list[bytes]:
        """``datas`` (chunks from number ``first``) if every MAC matches; else IntegrityError."""
        for n, data in enumerate(datas, start=first):
            if not self._signer.chunk_matches(self.file_id, n, data, self._macs[n]):
                raise self._tampered(f"chunk {n} does not match its signature")
        return datas

    def _tampered(self, why: str) -> IntegrityError:
        return IntegrityError(
            f"Stored file {self.file_id} failed verification: {why}.",
            {"file_id": str(self.file_id), "reason": why},
        )
