"""Verified reads of signed GridFS files: no byte leaves before its MAC is checked.

The file document's MAC is checked at open, and the first window of chunks is
fetched and checked there too, so a tampered small file (most models) is refused
before an answer starts. Later windows are fetched in a helper thread while the
previous one is checked and consumed, so fetching and hashing overlap. Windows
are bounded (``WINDOW_BYTES``) so no server reply grows with the file (real
MongoDB batches cursors itself; the local MongoDB-compatible server does not, and
refuses replies over ~48 MB).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from app.errors import IntegrityError
from app.storage.signing import Signer

if TYPE_CHECKING:
    from app.storage.artifacts import ArtifactStore

WINDOW_BYTES = 8 * 1024 * 1024  # at most this much file data per server reply


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
        self._window = max(1, WINDOW_BYTES // self.chunk_size)
        self._starts = range(0, self._count, self._window)
        self._pool = ThreadPoolExecutor(max_workers=1) if len(self._starts) > 1 else None
        self._ahead: Future[list[bytes]] | None = None
        if self._pool is not None:
            self._ahead = self._pool.submit(self._fetch, self._starts[1])
        try:
            self._first = self._verify(0, self._fetch(0))  # IntegrityError before any byte
        except BaseException:
            self.close()
            raise

    def chunks(self) -> Iterator[bytes]:
        """Every chunk's data in order, each verified before it is yielded.

        The next window is always being fetched while the current one is checked and
        consumed (from ``open`` on: the second window loads while the first is verified).
        """
        try:
            yield from self._first
            for i in range(1, len(self._starts)):
                assert self._pool is not None and self._ahead is not None
                window = self._ahead.result()
                more = i + 1 < len(self._starts)
                self._ahead = self._pool.submit(self._fetch, self._starts[i + 1]) if more else None
                yield from self._verify(self._starts[i], window)
        finally:
            self.close()

    def close(self) -> None:
        """Stop prefetching (idempotent; ``chunks`` does it when it ends)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

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
            expected = self._signer.chunk_mac(self.file_id, n, data)
            if not Signer.matches(expected, self._macs[n]):
                raise self._tampered(f"chunk {n} does not match its signature")
        return datas

    def _tampered(self, why: str) -> IntegrityError:
        return IntegrityError(
            f"Stored file {self.file_id} failed verification: {why}.",
            {"file_id": str(self.file_id), "reason": why},
        )
