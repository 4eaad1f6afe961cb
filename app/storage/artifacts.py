"""Binary artifacts (dataset CSVs, model files) in MongoDB GridFS.

Writes stream into a ``GridIn`` while hashing; a failed write is aborted so no
partial file remains. Reads fetch chunks in bounded windows of ``n`` so no
single server reply grows with the file (real MongoDB batches cursors by
itself; the local MongoDB-compatible server does not, and refuses replies over
~48 MB).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gridfs
from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.errors import NotFoundError

log = logging.getLogger(__name__)

WINDOW_BYTES = 8 * 1024 * 1024  # at most this much file data per server reply
CHUNK_SIZE = 1024 * 1024  # GridFS chunk size for new files


@dataclass
class StoredFile:
    """What a finished upload produced."""

    file_id: ObjectId
    sha256: str
    size_bytes: int


class HashingWriter:
    """A write-only file object that streams into GridFS and hashes as it goes."""

    def __init__(self, grid_in: gridfs.GridIn) -> None:
        self._grid_in = grid_in
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        """Append ``data`` to the file."""
        self._grid_in.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: GridIn sends whole chunks as they fill."""

    @property
    def file_id(self) -> ObjectId:
        """The id the file has (and keeps once the writer closes)."""
        return self._grid_in._id

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        return self._sha.hexdigest()


class ArtifactStore:
    """GridFS files of one bucket, written atomically and read in bounded windows."""

    def __init__(self, db: Database, bucket: str = "fs") -> None:
        self._db = db
        self._fs = gridfs.GridFS(db, collection=bucket)
        self._files = db[f"{bucket}.files"]
        self._chunks = db[f"{bucket}.chunks"]

    @contextmanager
    def writer(self, filename: str, metadata: dict[str, Any]) -> Iterator[HashingWriter]:
        """Yield a writer; on success the file is complete, on any error it is aborted."""
        grid_in = self._fs.new_file(filename=filename, metadata=metadata, chunkSize=CHUNK_SIZE)
        writer = HashingWriter(grid_in)
        try:
            yield writer
            grid_in.close()
        except BaseException:
            self._abort(grid_in)
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
        """Yield the file's chunks in order, fetching a bounded window per query."""
        doc = self._file_doc(file_id)
        chunk_size, length = int(doc["chunkSize"]), int(doc["length"])
        n_chunks = -(-length // chunk_size)
        window = max(1, WINDOW_BYTES // chunk_size)
        for first in range(0, n_chunks, window):
            query = {"files_id": doc["_id"], "n": {"$gte": first, "$lt": first + window}}
            for chunk in self._chunks.find(query).sort("n", 1):
                yield bytes(chunk["data"])

    def read(self, file_id: Any) -> bytes:
        """The whole file in memory (datasets; models are streamed)."""
        return b"".join(self.iter_bytes(file_id))

    def delete(self, file_id: Any) -> None:
        """Remove a file and its chunks (no error if already gone)."""
        self._fs.delete(file_id)

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

    @staticmethod
    def _abort(grid_in: gridfs.GridIn) -> None:
        try:
            grid_in.abort()
        except PyMongoError:  # the chunks may already be gone; never mask the real error
            log.warning("could not abort GridFS upload %s", grid_in._id, exc_info=True)
