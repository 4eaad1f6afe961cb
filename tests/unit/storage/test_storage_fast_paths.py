"""The storage fast paths found by the benchmark (bench/): they must keep the old behaviour.

- ``ArtifactStore.writer`` writes the GridFS layout itself (no per-file index checks),
  including what joblib writes uncompressed (``MODEL_COMPRESSION=0``: ``tell`` and
  memoryviews);
- ``JobRepository.record_progress`` records a stage and detects a cancel in one write;
- ``JobRepository.finish`` hands back the ended job;
- a model download is streamed, never read whole into the API's memory first.
"""

from __future__ import annotations

import hashlib
import io
import os

import gridfs
import numpy as np
from pymongo.database import Database
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from app.ml.training import load_model, save_model
from app.storage import artifacts
from app.storage.artifacts import ArtifactStore
from app.storage.jobs import JobRepository
from tests.unit.conftest import SIGNER


def _pipeline() -> Pipeline:
    X, y = np.random.RandomState(0).rand(40, 3), np.arange(40) % 2
    return Pipeline([("model", DecisionTreeClassifier(random_state=0).fit(X, y))])


def test_uncompressed_model_round_trips_through_the_writer(db: Database) -> None:
    store = ArtifactStore(db, SIGNER)
    for compress in (0, 3):
        with store.writer("m.joblib", {"kind": "model"}) as out:
            save_model(_pipeline(), out, compress=compress)
        raw = store.read(out.file_id)
        assert len(raw) == out.size and hashlib.sha256(raw).hexdigest() == out.sha256
        assert isinstance(load_model(io.BytesIO(raw)), Pipeline)


def test_written_files_are_plain_gridfs(db: Database) -> None:
    data = os.urandom(2 * artifacts.CHUNK_SIZE + 5)
    stored = ArtifactStore(db, SIGNER).put(data, "x.bin", {"kind": "test"})
    grid_out = gridfs.GridFS(db).get(stored.file_id)
    assert grid_out.read() == data and grid_out.filename == "x.bin"
    assert grid_out.metadata["kind"] == "test" and grid_out.chunk_size == artifacts.CHUNK_SIZE
    assert set(grid_out.metadata["signature"]) == {"sha256", "chunk_macs", "mac"}
    assert db["fs.chunks"].count_documents({"files_id": stored.file_id}) == 3


def test_record_progress_writes_unless_cancel_was_requested(db: Database) -> None:
    jobs = JobRepository(db)
    jobs.insert({"_id": "j", "status": "running", "attempts": 1, "cancel_requested": False})
    assert jobs.record_progress("j", 1, "fitting", 30)
    assert db.jobs.find_one({"_id": "j"})["progress"] == {"stage": "fitting", "percent": 30}
    assert not jobs.record_progress("j", 2, "fitting", 40)  # fenced: another attempt's write
    jobs.request_cancel("j")
    assert not jobs.record_progress("j", 1, "evaluating", 80)
    assert db.jobs.find_one({"_id": "j"})["progress"]["stage"] == "fitting"


def test_finish_returns_the_ended_job_once(db: Database) -> None:
    jobs = JobRepository(db)
    jobs.insert({"_id": "j", "status": "running"})
    ended = jobs.finish("j", "succeeded", result={"model_id": "m"})
    assert ended["status"] == "succeeded" and ended["finished_at"] is not None
    assert jobs.finish("j", "failed") is None


def test_download_is_streamed(client, loaded_db: Database) -> None:
    data = os.urandom(3 * artifacts.CHUNK_SIZE + 1)
    stored = ArtifactStore(loaded_db, SIGNER).put(data, "m.joblib", {"kind": "model"})
    loaded_db.models.insert_one(
        {"_id": "m1", "name": "m", "version": 1, "file_id": stored.file_id, "sha256": stored.sha256}
    )
    response = client.get("/api/v1/models/m1/download", buffered=False)
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Length"] == str(len(data))
    body = b"".join(response.response)
    assert body == data
