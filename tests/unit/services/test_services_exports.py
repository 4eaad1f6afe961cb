"""ONNX copies: small models in their job, big ones after it (once, verified, nothing
left behind)."""

from __future__ import annotations

from datetime import timedelta

from app.services.exports import export_onnx
from app.services.jobs import JobRequest, submit_job
from app.services.runs import TrainingRun
from app.services.supervisor import TickReport, queue_pending_exports
from app.storage.models import model_file_ids
from app.storage.mongo import utcnow
from app.tasks.celery_app import EXPORT_TASK
from tests.unit.conftest import SIGNER


def _trained(db, celery, redis, settings) -> dict:
    """A model committed with its ONNX copy pending (as a big model is)."""
    job = submit_job(db, celery, JobRequest(dataset="iris", algorithm="decision_tree"), redis)
    big = settings.model_copy(update={"onnx_inline_max_mb": 0.0})
    result = TrainingRun(db, redis, big, job["_id"], "w").run()
    return db.models.find_one({"_id": result["model_id"]})


def _onnx_files(db) -> list:
    return list(db["fs.files"].find({"metadata.format": "onnx"}))


def test_a_pending_model_gets_its_onnx_copy_once(loaded_db, celery, redis, settings) -> None:
    model = _trained(loaded_db, celery, redis, settings)
    assert model["formats"]["onnx"] == {"status": "pending"}
    record = export_onnx(loaded_db, SIGNER, model["_id"])
    assert record["status"] == "ok" and record["agreement"] == 1.0 and record["rows"] == 30
    assert export_onnx(loaded_db, SIGNER, model["_id"]) is None  # settled: nothing to do
    stored = loaded_db.models.find_one({"_id": model["_id"]})
    assert stored["formats"]["onnx"]["file_id"] in model_file_ids(stored)
    assert [f["_id"] for f in _onnx_files(loaded_db)] == [record["file_id"]]


def test_an_export_that_loses_the_race_removes_its_file(loaded_db, celery, redis, settings,
                                                        monkeypatch) -> None:  # fmt: skip
    model = _trained(loaded_db, celery, redis, settings)
    from app.storage.models import ModelRepository

    monkeypatch.setattr(ModelRepository, "settle_export", lambda self, model_id, record: False)
    assert export_onnx(loaded_db, SIGNER, model["_id"]) is None
    assert _onnx_files(loaded_db) == []


def test_a_model_whose_file_changed_gets_no_copy(loaded_db, celery, redis, settings) -> None:
    model = _trained(loaded_db, celery, redis, settings)
    loaded_db["fs.chunks"].update_one({"files_id": model["file_id"]}, {"$set": {"data": b"x"}})
    record = export_onnx(loaded_db, SIGNER, model["_id"])
    assert record["status"] == "unsupported" and _onnx_files(loaded_db) == []
    assert loaded_db.models.find_one({"_id": model["_id"]})["quarantined"]


def test_the_supervisor_queues_exports_still_pending(loaded_db, celery, redis, settings) -> None:
    model = _trained(loaded_db, celery, redis, settings)
    report = TickReport()
    queue_pending_exports(loaded_db, celery, settings, report)
    assert report.exports_queued == 0  # just trained: its worker queued it
    old = utcnow() - timedelta(seconds=settings.republish_after_seconds + 5)
    loaded_db.models.update_one({"_id": model["_id"]}, {"$set": {"created_at": old}})
    queue_pending_exports(loaded_db, celery, settings, report)
    assert report.exports_queued == 1
    assert [m["args"] for m in celery.sent if m["name"] == EXPORT_TASK] == [[model["_id"]]]


def test_a_small_model_is_converted_in_its_job(loaded_db, celery, redis, settings) -> None:
    job = submit_job(loaded_db, celery, JobRequest(dataset="iris", algorithm="knn"), redis)
    result = TrainingRun(loaded_db, redis, settings, job["_id"], "w").run()
    model = loaded_db.models.find_one({"_id": result["model_id"]})
    assert model["formats"]["onnx"]["status"] == "ok"
    assert export_onnx(loaded_db, SIGNER, model["_id"]) is None  # nothing left to do
