"""Binary artifacts (dataset CSVs, model files) in MongoDB GridFS.

Writes store GridFS chunks as they fill, while hashing; a failed write is aborted
so no partial file remains. Reads fetch chunks in bounded windows of ``n`` so no
single server reply grows with the file (real MongoDB batches cursors by
itself; the local MongoDB-compatible server does not, and refuses replies over
~48 MB).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.errors import NotFoundError
from app.storage.mongo import utcnow

log = logging.getLogger(__name__)

WINDOW_BYTES = 8 * 1024 * 1024  # at most this much file data per server reply
CHUNK_SIZE = 1024 * 1024  # GridFS chunk size for new files
INSERT_CHUNKS = 8  # chunks per insert_many while writing


@dataclass
class StoredFile:
    """What a finished upload produced."""

    file_id: ObjectId
    sha256: str
    size_bytes: int


class HashingWriter:
    """A write-only file object that stores GridFS chunks as they fill, hashing as it goes.

    It writes the GridFS layout itself (chunks, then the files document on ``close``),
    as pymongo's ``GridIn`` does, minus GridIn's index checks on every new file (two
    queries; ``ensure_indexes`` creates the GridFS indexes) and with the chunks inserted
    ``INSERT_CHUNKS`` at a time.
    """

    def __init__(
        self, store: ArtifactStore, filename: str, metadata: dict[str, Any], file_id: Any = None
    ) -> None:
        self._store, self._filename, self._metadata = store, filename, metadata
        self._id = ObjectId() if file_id is None else file_id
        self._sha = hashlib.sha256()
        self._buffer = bytearray()
        self._chunks: list[dict[str, Any]] = []  # full chunks not inserted yet
        self._n = 0
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` to the file (pickle's framer hands over memoryviews)."""
        self._sha.update(data)
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= CHUNK_SIZE:
            self._add_chunk(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]
        if len(self._chunks) >= INSERT_CHUNKS:
            self._insert_chunks()
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: chunks are stored as they fill."""

    def tell(self) -> int:
        """Bytes written so far (joblib asks when it writes uncompressed arrays)."""
        return self.size

    def close(self) -> None:
        """Store the last chunk and the files document: the file exists from now on."""
        if self._buffer:
            self._add_chunk(bytes(self._buffer))
            self._buffer.clear()
        self._insert_chunks()
        self._store._files.insert_one(
            {
                "_id": self._id,
                "filename": self._filename,
                "metadata": self._metadata,
                "chunkSize": CHUNK_SIZE,
                "length": self.size,
                "uploadDate": utcnow(),
            }
        )

    def _add_chunk(self, data: bytes) -> None:
        self._chunks.append({"files_id": self._id, "n": self._n, "data": data})
        self._n += 1

    def _insert_chunks(self) -> None:
        if self._chunks:
            self._store._chunks.insert_many(self._chunks, ordered=True)
            self._chunks = []

    @property
    def file_id(self) -> ObjectId:
        """The id the file has (and keeps once the writer closes)."""
        return self._id

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        return self._sha.hexdigest()


class ArtifactStore:
    """GridFS files of one bucket, written atomically and read in bounded windows."""

    def __init__(self, db: Database, bucket: str = "fs") -> None:
        self._files = db[f"{bucket}.files"]
        self._chunks = db[f"{bucket}.chunks"]

    @contextmanager
    def writer(
        self, filename: str, metadata: dict[str, Any], file_id: Any = None
    ) -> Iterator[HashingWriter]:
        """Yield a writer; on success the file is complete, on any error it is aborted.

        Give ``file_id`` when a crash mid-write must be cleanable later: chunks written
        before the files document exists can only be found by that id.
        """
        writer = HashingWriter(self, filename, metadata, file_id)
        try:
            yield writer
            writer.close()
        except BaseException:
            self._abort(writer.file_id)
            raise

    def put(self, data: bytes, filename: str, metadata: dict[str, Any]) -> StoredFile:
        """Store ``data`` whole and return its id, hash and size."""
        with self.writer(filename, metadata) as out:
            for start in range(0, len(data), CHUNK_SIZE):
                out.write(data[start : start + CHUNK_SIZE])
        return StoredFile(out.file_id, out.sha256, out.size)

    def length(self, file_id: Any) -> int:
        """Size in bytes of a stored file; NotFoundError if absent."""
        return int(self._file_doc(file_id)["length"])

    def iter_bytes(self, file_id: Any) -> Iterator[bytes]:
        """Yield the file's chunks in order, fetching a bounded window per query.

        While one window is consumed (e.g. sent to a client) the next one is fetched in a
        helper thread, so MongoDB and the consumer work at the same time (two windows in
        memory at most).
        """
        doc = self._file_doc(file_id)
        chunk_size, length = int(doc["chunkSize"]), int(doc["length"])
        window = max(1, WINDOW_BYTES // chunk_size)
        firsts = range(0, -(-length // chunk_size), window)

        def fetch(first: int) -> list[bytes]:
            query = {"files_id": doc["_id"], "n": {"$gte": first, "$lt": first + window}}
            return [bytes(chunk["data"]) for chunk in self._chunks.find(query).sort("n", 1)]

        if len(firsts) <= 1:  # a single query: nothing to overlap
            for first in firsts:
                yield from fetch(first)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(fetch, firsts[0])
            for i in range(len(firsts)):
                chunks = ahead.result()
                if i + 1 < len(firsts):
                    ahead = pool.submit(fetch, firsts[i + 1])
                yield from chunks

    def read(self, file_id: Any) -> bytes:
        """The whole file in memory (datasets; models are streamed)."""
        return b"".join(self.iter_bytes(file_id))

    def delete(self, file_id: Any) -> None:
        """Remove a file, complete or cut short: its document (if any), then its chunks."""
        if self._files.find_one({"_id": file_id}, {"_id": 1}) is not None:
            self._files.delete_one({"_id": file_id})
        self._chunks.delete_many({"files_id": file_id})

    def delete_where(self, metadata: dict[str, Any]) -> int:
        """Remove every file whose metadata matches; returns how many."""
        query = {f"metadata.{key}": value for key, value in metadata.items()}
        ids = [doc["_id"] for doc in self._files.find(query, {"_id": 1})]
        for file_id in ids:
            self.delete(file_id)
        return len(ids)

    def _file_doc(self, file_id: Any) -> dict[str, Any]:
        doc = self._files.find_one({"_id": file_id})
        if doc is None:
            raise NotFoundError(f"Artifact {file_id} not found.", {"file_id": str(file_id)})
        return doc

    def _abort(self, file_id: ObjectId) -> None:
        """Remove whatever a failed write stored (never masking the error that caused it)."""
        try:
            self.delete(file_id)
        except PyMongoError:
            log.warning("could not abort GridFS upload %s", file_id, exc_info=True)
