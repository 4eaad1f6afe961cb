"""ONNX copies of trained models: made in the job for small models, after it for big ones.

A model whose joblib file is at most ``ONNX_INLINE_MAX_MB`` is converted by its training
run before the commit (``store_copy``: milliseconds for such models, and the model is
served by ONNX Runtime from its first prediction). A bigger one is committed with
``formats.onnx.status: "pending"`` (converting a large forest takes seconds the job
should not wait for); the worker that trained it then queues ``export_onnx``
(``app.tasks.export``), and the supervisor queues it again for any model still pending
after ``REPUBLISH_AFTER_SECONDS`` (a lost message, a worker that died). The export
loads the verified joblib file and the verified dataset, takes the job's test split
again (the same ``test_size`` and ``random_state``), converts and checks parity
(``app.ml.onnx_format``), stores the ONNX file under an id of its own and sets
``formats.onnx`` only if it is still pending: two exports of one model store one file,
and an export of a model deleted meanwhile leaves nothing behind.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Celery
from pymongo.database import Database

from app.ml.onnx_format import convert
from app.ml.tabular import read_csv
from app.ml.training import prepare_and_split
from app.services.datasets import read_dataset
from app.serving.loader import load_verified_model
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository
from app.storage.models import ModelRepository
from app.storage.signing import Signer
from app.tasks.celery_app import EXPORT_TASK

log = logging.getLogger(__name__)
PENDING = "pending"


def export_onnx(db: Database, signer: Signer, model_id: str) -> dict[str, Any] | None:
    """Make the ONNX copy of model ``model_id`` if it is pending; its ``formats.onnx``
    record (None if there was nothing to do)."""
    models = ModelRepository(db, signer)
    model = models.find(model_id)
    if model is None or ((model.get("formats") or {}).get("onnx") or {}).get("status") != PENDING:
        return None
    file_id = f"onnx:{model_id}:{uuid.uuid4().hex[:8]}"
    try:
        pipeline, holdout = _inputs(db, signer, model)
        record = store_copy(models, model, pipeline, holdout, file_id)
    except Exception as exc:  # a file that fails verification, a dataset gone: no ONNX copy
        log.warning("model %s: no ONNX copy: %s: %s", model_id, type(exc).__name__, exc)
        record = {"status": "unsupported", "reason": f"{type(exc).__name__}: {exc}"[:300]}
    if not models.settle_export(model_id, record):
        models.artifacts.delete(file_id)  # another export settled first, or the model is gone
        return None
    return record


def store_copy(
    models: ModelRepository,
    model: dict[str, Any],
    pipeline: Any,
    holdout: Any,
    file_id: str,
) -> dict[str, Any]:
    """Convert ``pipeline`` (of ``model``: a document, or the fields of one being built) and
    store the ONNX file under ``file_id`` if parity passed; its ``formats.onnx`` record."""
    conversion = convert(
        pipeline, list(model["features"]), model["feature_types"], model["task"], holdout
    )
    record = dict(conversion.record)
    if conversion.onnx is not None:
        metadata = {"kind": "model", "job_id": model["job_id"], "format": "onnx"}
        with models.artifacts.writer(f"{model['name']}.onnx", metadata, file_id) as out:
            out.write(conversion.onnx)
        record.update(file_id=out.file_id, sha256=out.sha256, size_bytes=out.size)
    return record


def queue_export(celery: Celery, model_id: str) -> None:
    """Ask a worker for the ONNX copy of ``model_id`` (a JSON message on the training
    queue; any number of them is harmless)."""
    celery.send_task(EXPORT_TASK, args=[model_id], ignore_result=True)


def _inputs(db: Database, signer: Signer, model: dict[str, Any]) -> tuple[Any, Any]:
    """The verified pipeline of ``model`` and its job's test rows (raw features)."""
    pipeline = load_verified_model(db, signer, model)
    dataset = DatasetRepository(db).get(model["dataset_name"], model["dataset_version"])
    job = JobRepository(db).find(model["job_id"]) or {}
    frame = read_csv(read_dataset(db, signer, dataset))
    _, holdout, _, _, _ = prepare_and_split(
        frame,
        model["target"],
        model["task"],
        job.get("test_size", 0.2),
        job.get("random_state", 42),
    )
    return pipeline, holdout[list(model["features"])]
