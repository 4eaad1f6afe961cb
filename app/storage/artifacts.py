"""Binary artifacts (dataset CSVs, model files) in MongoDB GridFS, signed and verified.

Writes store GridFS chunks as they fill, hashing and signing each one (see
``app.storage.signing``); a failed write is aborted so no partial file remains.
Reads (``open``/``read``) check every MAC before handing out a byte: see
``app.storage.verified``. Deleting needs no signing key.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import PyMongoError

from app.errors import NotFoundError
from app.storage.mongo import utcnow
from app.storage.signing import Signer, SigningKeyMissing
from app.storage.verified import VerifiedFile

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024  # GridFS chunk size for new files
INSERT_CHUNKS = 8  # chunks per insert_many while writing


@dataclass
class StoredFile:
    """What a finished upload produced."""

    file_id: Any
    sha256: str
    size_bytes: int


class HashingWriter:
    """A write-only file object that stores signed GridFS chunks as they fill.

    It writes the GridFS layout itself (chunks, then the files document on ``close``),
    as pymongo's ``GridIn`` does, minus GridIn's index checks on every new file (two
    queries; ``ensure_indexes`` creates the GridFS indexes), with the chunks inserted
    ``INSERT_CHUNKS`` at a time, and with a MAC on each chunk and on the file.
    """

    def __init__(
        self, store: ArtifactStore, signer: Signer, filename: str, metadata: dict[str, Any],
        file_id: Any = None,
    ) -> None:  # fmt: skip
        self._store, self._signer = store, signer
        self._filename, self._metadata = filename, metadata
        self._id = ObjectId() if file_id is None else file_id
        self._sha = hashlib.sha256()
        self._buffer = bytearray()
        self._chunks: list[dict[str, Any]] = []  # full chunks not inserted yet
        self._macs: list[str] = []  # of every chunk so far, in order
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
        """Store the last chunk and the signed files document: the file exists from now on."""
        if self._buffer:
            self._add_chunk(bytes(self._buffer))
            self._buffer.clear()
        self._insert_chunks()
        mac = self._signer.file_mac(self._id, self.size, CHUNK_SIZE, self.sha256, self._macs)
        signature = {"sha256": self.sha256, "chunk_macs": self._macs, "mac": mac}
        self._store.files.insert_one(
            {
                "_id": self._id,
                "filename": self._filename,
                "metadata": {**self._metadata, "signature": signature},
                "chunkSize": CHUNK_SIZE,
                "length": self.size,
                "uploadDate": utcnow(),
            }
        )

    def _add_chunk(self, data: bytes) -> None:
        self._macs.append(self._signer.chunk_mac(self._id, self._n, data))
        self._chunks.append({"files_id": self._id, "n": self._n, "data": data})
        self._n += 1

    def _insert_chunks(self) -> None:
        if self._chunks:
            self._store.chunks.insert_many(self._chunks, ordered=True)
            self._chunks = []

    @property
    def file_id(self) -> Any:
        """The id the file has (and keeps once the writer closes)."""
        return self._id

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        return self._sha.hexdigest()


class ArtifactStore:
    """GridFS files of one bucket: written signed and atomically, read verified."""

    def __init__(self, db: Database, signer: Signer | None = None, bucket: str = "fs") -> None:
        self.files = db[f"{bucket}.files"]
        self.chunks = db[f"{bucket}.chunks"]
        self._signer = signer

    @property
    def signer(self) -> Signer:
        """The signing key's signer; SigningKeyMissing for a store made without one."""
        if self._signer is None:
            raise SigningKeyMissing("This ArtifactStore was made without a signing key.")
        return self._signer

    @contextmanager
    def writer(
        self, filename: str, metadata: dict[str, Any], file_id: Any = None
    ) -> Iterator[HashingWriter]:
        """Yield a writer; on success the file is complete, on any error it is aborted.

        Give ``file_id`` when a crash mid-write must be cleanable later: chunks written
        before the files document exists can only be found by that id.
        """
        writer = HashingWriter(self, self.signer, filename, metadata, file_id)
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

    def open(self, file_id: Any) -> VerifiedFile:
        """The file for reading: its document and first window are verified now
        (IntegrityError before any byte is handed out), the rest as it streams."""
        return VerifiedFile(self, self.signer, self._file_doc(file_id))

    def read(self, file_id: Any) -> bytes:
        """The whole file in memory, verified (datasets; models are streamed)."""
        return b"".join(self.open(file_id).chunks())

    def length(self, file_id: Any) -> int:
        """Size in bytes of a stored file; NotFoundError if absent."""
        return int(self._file_doc(file_id)["length"])

    def delete(self, file_id: Any) -> None:
        """Remove a file, complete or cut short: its document (if any), then its chunks."""
        if self.files.find_one({"_id": file_id}, {"_id": 1}) is not None:
            self.files.delete_one({"_id": file_id})
        self.chunks.delete_many({"files_id": file_id})

    def delete_where(self, metadata: dict[str, Any]) -> int:
        """Remove every file whose metadata matches; returns how many."""
        query = {f"metadata.{key}": value for key, value in metadata.items()}
        ids = [doc["_id"] for doc in self.files.find(query, {"_id": 1})]
        for file_id in ids:
            self.delete(file_id)
        return len(ids)

    def _file_doc(self, file_id: Any) -> dict[str, Any]:
        doc = self.files.find_one({"_id": file_id})
        if doc is None:
            raise NotFoundError(f"Artifact {file_id} not found.", {"file_id": str(file_id)})
        return doc

    def _abort(self, file_id: Any) -> None:
        """Remove whatever a failed write stored (never masking the error that caused it)."""
        try:
            self.delete(file_id)
        except PyMongoError:
            log.warning("could not abort GridFS upload %s", file_id, exc_info=True)
