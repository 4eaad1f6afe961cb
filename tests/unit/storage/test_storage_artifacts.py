"""GridFS artifacts: signed streamed writes, aborts on error, verified bounded-window reads."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest
from pymongo.database import Database

from app.errors import IntegrityError, NotFoundError
from app.storage import artifacts, verified
from app.storage.artifacts import ArtifactStore
from app.storage.signing import Signer, SigningKeyMissing
from tests.unit.conftest import SIGNER


def test_put_then_read_round_trips_bytes_and_hash(db: Database) -> None:
    data = os.urandom(3 * artifacts.CHUNK_SIZE + 123)
    stored = ArtifactStore(db, SIGNER).put(data, "x.bin", {"kind": "test"})
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size_bytes == len(data)
    assert ArtifactStore(db, SIGNER).read(stored.file_id) == data
    assert ArtifactStore(db, SIGNER).length(stored.file_id) == len(data)


def test_reads_fetch_at_most_one_window_per_query(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(verified, "WINDOW_BYTES", 2 * artifacts.CHUNK_SIZE)
    data = os.urandom(5 * artifacts.CHUNK_SIZE)
    store = ArtifactStore(db, SIGNER)
    stored = store.put(data, "x.bin", {})
    queries = []
    real_find = store.chunks.find

    def recording_find(query, *args, **kwargs):
        queries.append(query["n"])
        return real_find(query, *args, **kwargs)

    monkeypatch.setattr(store.chunks, "find", recording_find)
    assert b"".join(store.open(stored.file_id).chunks()) == data
    assert sorted(queries, key=lambda q: q["$gte"]) == [
        {"$gte": 0, "$lt": 2},
        {"$gte": 2, "$lt": 4},
        {"$gte": 4, "$lt": 5},
    ]  # the second window is fetched while the first is verified


def test_writer_aborts_on_error_and_leaves_no_file(db: Database) -> None:
    store = ArtifactStore(db, SIGNER)
    with pytest.raises(RuntimeError), store.writer("x.bin", {"job_id": "j"}) as out:
        out.write(os.urandom(2 * artifacts.CHUNK_SIZE))
        raise RuntimeError("serialization failed")
    assert db["fs.files"].count_documents({}) == 0
    assert db["fs.chunks"].count_documents({}) == 0


def test_delete_where_removes_only_matching_files(db: Database) -> None:
    store = ArtifactStore(db, SIGNER)
    keep = store.put(b"keep", "a", {"kind": "model", "job_id": "other"})
    store.put(b"drop1", "b", {"kind": "model", "job_id": "j"})
    store.put(b"drop2", "c", {"kind": "model", "job_id": "j"})
    assert store.delete_where({"kind": "model", "job_id": "j"}) == 2
    assert [doc["_id"] for doc in db["fs.files"].find()] == [keep.file_id]


def test_missing_file_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        ArtifactStore(db, SIGNER).length("nope")


def _stored(db: Database, size: int = 3 * artifacts.CHUNK_SIZE + 7) -> tuple[ArtifactStore, object]:
    store = ArtifactStore(db, SIGNER)
    return store, store.put(os.urandom(size), "m.joblib", {"kind": "model"}).file_id


def test_every_chunk_and_the_file_carry_a_mac_in_the_gridfs_metadata(db: Database) -> None:
    _store, file_id = _stored(db)
    doc = db["fs.files"].find_one({"_id": file_id})
    signature = doc["metadata"]["signature"]
    assert signature["mac"].startswith("v1:") and len(signature["chunk_macs"]) == 4
    assert all(mac.startswith("v2:") for mac in signature["chunk_macs"])  # keyed BLAKE3
    assert set(doc) == {"_id", "filename", "metadata", "chunkSize", "length", "uploadDate"}
    assert all(set(c) == {"_id", "files_id", "n", "data"} for c in db["fs.chunks"].find())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda db, fid: db["fs.chunks"].update_one(
            {"files_id": fid, "n": 1}, {"$set": {"data": b"x" * artifacts.CHUNK_SIZE}}
        ),
        lambda db, fid: db["fs.chunks"].delete_one({"files_id": fid, "n": 2}),
        lambda db, fid: db["fs.files"].update_one({"_id": fid}, {"$inc": {"length": -7}}),
        lambda db, fid: db["fs.files"].update_one(
            {"_id": fid}, {"$unset": {"metadata.signature": ""}}
        ),
        lambda db, fid: db["fs.files"].update_one(
            {"_id": fid}, {"$pop": {"metadata.signature.chunk_macs": 1}}
        ),
        lambda db, fid: db["fs.chunks"].update_one({"files_id": fid, "n": 0}, {"$set": {"n": 9}}),
    ],
    ids=[
        "changed-chunk",
        "missing-chunk",
        "changed-length",
        "unsigned",
        "mac-list-cut",
        "renumbered-chunk",
    ],
)
def test_any_change_in_storage_is_refused_before_a_byte_is_handed_out(db, tamper) -> None:
    store, file_id = _stored(db)
    tamper(db, file_id)
    with pytest.raises(IntegrityError) as error:
        store.read(file_id)
    assert error.value.code == "integrity_error" and error.value.http_status == 409


def test_a_chunk_moved_from_another_file_is_refused(db: Database) -> None:
    store, first = _stored(db)
    _, second = _stored(db)
    stolen = db["fs.chunks"].find_one({"files_id": second, "n": 0})
    stolen_mac = db["fs.files"].find_one({"_id": second})["metadata"]["signature"]["chunk_macs"][0]
    db["fs.chunks"].update_one({"files_id": first, "n": 0}, {"$set": {"data": stolen["data"]}})
    db["fs.files"].update_one(
        {"_id": first}, {"$set": {"metadata.signature.chunk_macs.0": stolen_mac}}
    )
    with pytest.raises(IntegrityError):
        store.read(first)


@pytest.mark.parametrize(
    "tamper",
    [
        {"$set": {"data": b"evil"}},  # caught by the reader's check
        {"$set": {"n": 99}},  # caught by the fetching thread: chunk 3 is missing
    ],
    ids=["changed", "missing"],
)
def test_a_later_window_that_fails_stops_the_stream(db: Database, monkeypatch, tamper) -> None:
    monkeypatch.setattr(verified, "WINDOW_BYTES", artifacts.CHUNK_SIZE)
    store, file_id = _stored(db)
    db["fs.chunks"].update_one({"files_id": file_id, "n": 3}, tamper)
    chunks = store.open(file_id).chunks()  # the first window is fine
    assert len(next(chunks)) == artifacts.CHUNK_SIZE
    with pytest.raises(IntegrityError, match="chunk"):
        list(chunks)


def _prefetchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, verified._Prefetcher)]


def test_a_reader_that_goes_away_mid_file_stops_the_fetching(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(verified, "WINDOW_BYTES", artifacts.CHUNK_SIZE)
    monkeypatch.setattr(verified, "_POLL_SECONDS", 0.02)
    store, file_id = _stored(db, 8 * artifacts.CHUNK_SIZE)
    chunks = store.open(file_id).chunks()
    next(chunks)
    assert len(_prefetchers()) == 1  # it fetches the next window
    chunks.close()  # what the server does when a client disconnects
    deadline = time.monotonic() + 5
    while _prefetchers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _prefetchers() == []


def test_another_signing_key_cannot_read_the_file(db: Database) -> None:
    _store, file_id = _stored(db, 10)
    with pytest.raises(IntegrityError):
        ArtifactStore(db, Signer(b"another key, 32 bytes at least!!")).read(file_id)


def test_a_store_without_a_key_can_delete_but_not_write_or_read(db: Database) -> None:
    _store, file_id = _stored(db, 10)
    unsigned = ArtifactStore(db)
    with pytest.raises(SigningKeyMissing):
        unsigned.read(file_id)
    with pytest.raises(SigningKeyMissing):
        unsigned.put(b"x", "x", {})
    unsigned.delete(file_id)
    assert db["fs.files"].count_documents({}) == 0


def test_a_file_opened_but_never_read_lets_its_threads_go(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(verified, "WINDOW_BYTES", artifacts.CHUNK_SIZE)
    monkeypatch.setattr(verified, "_POLL_SECONDS", 0.02)
    monkeypatch.setattr(verified, "ABANDON_SECONDS", 0.2)
    store, file_id = _stored(db, 8 * artifacts.CHUNK_SIZE)
    store.open(file_id)  # e.g. a response that was never sent
    deadline = time.monotonic() + 5
    while _prefetchers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _prefetchers() == []


def _resign(db: Database, file_id: object, chunk_macs: list[str]) -> None:
    """Give the file ``chunk_macs`` and a valid file MAC over them (what the server would
    have written), so only the chunk MACs decide."""
    doc = db["fs.files"].find_one({"_id": file_id})
    signature = doc["metadata"]["signature"]
    mac = SIGNER.file_mac(file_id, doc["length"], doc["chunkSize"], signature["sha256"], chunk_macs)
    db["fs.files"].update_one(
        {"_id": file_id},
        {"$set": {"metadata.signature.chunk_macs": chunk_macs, "metadata.signature.mac": mac}},
    )


def _chunks_of(db: Database, file_id: object) -> list[bytes]:
    return [c["data"] for c in db["fs.chunks"].find({"files_id": file_id}).sort("n", 1)]


def test_a_file_signed_with_v1_chunk_macs_still_verifies(db: Database) -> None:
    store, file_id = _stored(db)
    v1 = [
        SIGNER.chunk_mac(file_id, n, data, "v1") for n, data in enumerate(_chunks_of(db, file_id))
    ]
    assert all(mac.startswith("v1:") for mac in v1)
    _resign(db, file_id, v1)
    assert store.read(file_id) == b"".join(_chunks_of(db, file_id))
    db["fs.chunks"].update_one({"files_id": file_id, "n": 2}, {"$set": {"data": b"evil"}})
    with pytest.raises(IntegrityError):
        store.read(file_id)


def test_a_chunk_mac_cannot_be_swapped_for_another_scheme(db: Database) -> None:
    store, file_id = _stored(db)
    data = _chunks_of(db, file_id)[1]
    path = "metadata.signature.chunk_macs.1"
    db["fs.files"].update_one(
        {"_id": file_id}, {"$set": {path: SIGNER.chunk_mac(file_id, 1, data, "v1")}}
    )
    with pytest.raises(IntegrityError, match="signature"):  # the file MAC covers the list
        store.read(file_id)
    macs = db["fs.files"].find_one({"_id": file_id})["metadata"]["signature"]["chunk_macs"]
    _resign(db, file_id, [*macs[:1], "v9:" + "0" * 64, *macs[2:]])
    with pytest.raises(IntegrityError, match="chunk 1"):  # a scheme no reader knows
        store.read(file_id)
