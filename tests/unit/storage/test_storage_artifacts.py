"""GridFS artifacts: streamed writes with hashing, aborts on error, bounded-window reads."""

from __future__ import annotations

import hashlib
import os

import pytest
from pymongo.database import Database

from app.errors import NotFoundError
from app.storage import artifacts
from app.storage.artifacts import ArtifactStore


def test_put_then_read_round_trips_bytes_and_hash(db: Database) -> None:
    data = os.urandom(3 * artifacts.CHUNK_SIZE + 123)
    stored = ArtifactStore(db).put(data, "x.bin", {"kind": "test"})
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size_bytes == len(data)
    assert ArtifactStore(db).read(stored.file_id) == data
    assert ArtifactStore(db).length(stored.file_id) == len(data)


def test_reads_fetch_at_most_one_window_per_query(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(artifacts, "WINDOW_BYTES", 2 * artifacts.CHUNK_SIZE)
    data = os.urandom(5 * artifacts.CHUNK_SIZE)
    store = ArtifactStore(db)
    stored = store.put(data, "x.bin", {})
    queries = []
    real_find = store._chunks.find

    def recording_find(query, *args, **kwargs):
        queries.append(query["n"])
        return real_find(query, *args, **kwargs)

    monkeypatch.setattr(store._chunks, "find", recording_find)
    assert b"".join(store.iter_bytes(stored.file_id)) == data
    assert queries == [{"$gte": 0, "$lt": 2}, {"$gte": 2, "$lt": 4}, {"$gte": 4, "$lt": 6}]


def test_writer_aborts_on_error_and_leaves_no_file(db: Database) -> None:
    store = ArtifactStore(db)
    with pytest.raises(RuntimeError), store.writer("x.bin", {"job_id": "j"}) as out:
        out.write(os.urandom(2 * artifacts.CHUNK_SIZE))
        raise RuntimeError("serialization failed")
    assert db["fs.files"].count_documents({}) == 0
    assert db["fs.chunks"].count_documents({}) == 0


def test_delete_where_removes_only_matching_files(db: Database) -> None:
    store = ArtifactStore(db)
    keep = store.put(b"keep", "a", {"kind": "model", "job_id": "other"})
    store.put(b"drop1", "b", {"kind": "model", "job_id": "j"})
    store.put(b"drop2", "c", {"kind": "model", "job_id": "j"})
    assert store.delete_where({"kind": "model", "job_id": "j"}) == 2
    assert [doc["_id"] for doc in db["fs.files"].find()] == [keep.file_id]


def test_missing_file_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        ArtifactStore(db).length("nope")
