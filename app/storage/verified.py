"""Verified reads of signed GridFS files: no byte leaves before its MAC is checked.

The file document's MAC is checked at open, and the first window of chunks is
fetched and checked there too, so a tampered small file (most models) is refused
before an answer starts. Later windows are fetched in a helper thread while the
previous one is consumed, and checked in that thread (hashing releases the GIL),
so verification costs little throughput. Windows are bounded (``WINDOW_BYTES``)
so no server reply grows with the file (real MongoDB batches cursors itself; the
local MongoDB-compatible server does not, and refuses replies over ~48 MB).
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
        self._first = self._fetch(0)  # checked now: IntegrityError before any byte is used

    def chunks(self) -> Iterator[bytes]:
        """Every chunk's data in order, each verified before it is yielded."""
        starts = range(0, self._count, self._window)
        if len(starts) <= 1:
            yield from self._first
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead: Future[list[bytes]] | None = pool.submit(self._fetch, starts[1])
            yield from self._first
            for i in range(1, len(starts)):
                assert ahead is not None
                window = ahead.result()
                ahead = pool.submit(self._fetch, starts[i + 1]) if i + 1 < len(starts) else None
                yield from window

    def _fetch(self, first: int) -> list[bytes]:
        """Chunks ``first`` … ``first + window - 1`` (fewer at the end), MACs checked."""
        last = min(first + self._window, self._count)
        query = {"files_id": self.file_id, "n": {"$gte": first, "$lt": last}}
        found = list(self._store.chunks.find(query).sort("n", 1))
        if [chunk["n"] for chunk in found] != list(range(first, last)):
            raise self._tampered(f"chunks {first}..{last - 1} are not all there")
        datas = []
        for chunk in found:
            data = bytes(chunk["data"])
            expected = self._signer.chunk_mac(self.file_id, chunk["n"], data)
            if not Signer.matches(expected, self._macs[chunk["n"]]):
                raise self._tampered(f"chunk {chunk['n']} does not match its signature")
            datas.append(data)
        return datas

    def _tampered(self, why: str) -> IntegrityError:
        return IntegrityError(
            f"Stored file {self.file_id} failed verification: {why}.",
            {"file_id": str(self.file_id), "reason": why},
        )
