"""Batch predictions: one job scores a whole dataset version with a pinned model version.

The job has the life cycle of a training job (``TrainingRun``: claim, lease, heartbeat,
fencing, retries, cancel at every stage) and runs on the ``prediction`` queue. It reads
the model and the dataset (both verified), scores the rows in chunks
(``BATCH_PREDICT_CHUNK_ROWS``) with the scikit-learn pipeline, so the output is exactly
what ``pipeline.predict`` gives, and writes a signed CSV: the dataset's key column (its
first ID-like column, else ``row``, the row's 0-based position), ``prediction`` and, with
``proba``, one ``proba_<class>`` column per class. Rows whose numeric features hold text
are not scored: they are counted in ``invalid_rows``, the first 20 listed in
``row_errors``. The job's result is its commit point.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pymongo.database import Database

from app.errors import ConflictError, DataError, NotFoundError
from app.ml.preprocessing import ID, NUMERIC
from app.services.predictions import feature_types
from app.services.runs import TrainingRun
from app.serving.loader import load_verified_model
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository
from app.storage.outputs import OutputStore, committed_output, output_id
from app.storage.signing import Signer

MAX_ROW_ERRORS = 20


class BatchPredictionRun(TrainingRun):
    """Runs batch prediction job ``job_id`` once (see the module docstring)."""

    def _committed(self) -> dict[str, Any] | None:
        return None  # the result is written with the job's end: a new delivery starts over

    def _discard_uncommitted(self) -> None:
        OutputStore(self.db).discard(self.job_id, range(1, self.attempt))

    def _discard_try(self) -> None:
        OutputStore(self.db).discard(self.job_id, range(self.attempt, self.attempt + 1))

    def _succeed(self, result: dict[str, Any]) -> dict[str, Any]:
        self.ended = self.outcomes.succeed_with(self.job_id, result, self.attempt or None)
        return result

    def _work(self, job: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        self.progress("loading_model", 5)
        model = self.models.find(job["model"]["id"])
        if model is None:
            pinned = f"{job['model']['name']}@v{job['model']['version']}"
            raise DataError(f"Model {pinned} was deleted after this job was submitted.")
        pipeline = load_verified_model(self.db, self.signer, model)
        self.progress("loading_data", 10)
        dataset = DatasetRepository(self.db).get(job["dataset"], job["dataset_version"])
        frame = self._load_frame(dataset)
        loaded = time.perf_counter()
        types = feature_types(self.db, model)
        rows, errors, invalid = checked_rows(frame, list(model["features"]), types)
        key = key_column(dataset, model)
        parts = []
        for done, chunk in self._chunks(rows):
            parts.append(score(pipeline, chunk, job.get("proba", False), model.get("classes")))
            self.progress("predicting", 15 + int(75 * done / max(1, len(rows))))
        scored = time.perf_counter()
        self.progress("saving", 92)
        table = pd.concat(parts) if parts else pd.DataFrame(columns=["prediction"])
        keys = frame.loc[table.index, key] if key else pd.Series(table.index, index=table.index)
        table.insert(0, key or "row", keys.to_numpy())
        output = self._upload(job, table.to_csv(index=False).encode())
        return {
            "rows": len(frame),
            "predicted_rows": len(table),
            "invalid_rows": invalid,
            "row_errors": errors,
            "model": job["model"],
            "engine": "sklearn",
            "output": output,
            "output_url": f"/api/v1/jobs/{self.job_id}/output",
            "timings": {
                "load_seconds": round(loaded - started, 3),
                "predict_seconds": round(scored - loaded, 3),
                "write_seconds": round(time.perf_counter() - scored, 3),
            },
        }

    def _chunks(self, rows: pd.DataFrame) -> Iterator[tuple[int, pd.DataFrame]]:
        size = self.settings.batch_predict_chunk_rows
        for start in range(0, len(rows), size):
            yield min(start + size, len(rows)), rows.iloc[start : start + size]

    def _upload(self, job: dict[str, Any], data: bytes) -> dict[str, Any]:
        file_id = output_id(self.job_id, self.attempt)  # removed by id if this try fails
        filename = f"{job['model_name']}-v{job['model']['version']}-{job['dataset']}.csv"
        metadata = {"kind": "output", "job_id": self.job_id}
        with OutputStore(self.db, self.signer).artifacts.writer(filename, metadata, file_id) as out:
            out.write(data)
        return {
            "file_id": out.file_id,
            "filename": filename,
            "sha256": out.sha256,
            "size_bytes": out.size,
        }


def checked_rows(
    frame: pd.DataFrame, features: list[str], types: dict[str, str]
) -> tuple[pd.DataFrame, list[dict[str, Any]], int]:
    """The rows that can be scored (numeric features as floats), the first row errors and
    how many rows cannot; DataError if a feature column is missing."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise DataError(
            f"The dataset lacks the model's features: {', '.join(missing)}.",
            {"field": "dataset", "missing": missing},
        )
    rows = frame[features].copy()
    bad = pd.Series(False, index=rows.index)
    errors: list[dict[str, Any]] = []
    for feature in features:
        if types.get(feature) != NUMERIC:
            rows[feature] = rows[feature].astype(object)
            continue
        numbers = pd.to_numeric(rows[feature], errors="coerce")
        wrong = numbers.isna() & rows[feature].notna()
        for index in wrong[wrong].index[: MAX_ROW_ERRORS - len(errors)]:
            errors.append({"row": int(index), "column": feature, "error": "not a number"})
        bad |= wrong
        rows[feature] = numbers.astype(float)
    return rows[~bad], errors[:MAX_ROW_ERRORS], int(bad.sum())


def score(pipeline: Any, rows: pd.DataFrame, proba: bool, classes: list | None) -> pd.DataFrame:
    """``prediction`` (and ``proba_<class>`` columns) of ``rows``, indexed like them."""
    table = pd.DataFrame({"prediction": pipeline.predict(rows)}, index=rows.index)
    if proba and classes and hasattr(pipeline, "predict_proba"):
        probabilities = np.round(pipeline.predict_proba(rows), 6)
        for i, label in enumerate(classes):
            table[f"proba_{label}"] = probabilities[:, i]
    return table


def key_column(dataset: dict[str, Any], model: dict[str, Any]) -> str | None:
    """The dataset's first ID-like column (not a feature, not the target), if any."""
    for column, kind in (dataset.get("column_types") or {}).items():
        if kind == ID and column not in model["features"] and column != model["target"]:
            return str(column)
    return None


def open_output(db: Database, signer: Signer, job_id: str) -> tuple[dict[str, Any], Any]:
    """The job and its verified output file (``VerifiedFile``); NotFoundError or
    ConflictError (not a prediction job, or not succeeded yet)."""
    job = JobRepository(db).get(job_id)
    if job.get("kind") != "predict":
        raise NotFoundError(
            f"Job '{job_id}' is a training job: it has no output file (see its model).",
            {"job_id": job_id, "kind": job.get("kind", "train")},
        )
    file_id = committed_output(job)
    if job["status"] != "succeeded" or file_id is None:
        raise ConflictError(
            f"Job '{job_id}' is {job['status']}: its output exists once it succeeds.",
            {"job_id": job_id, "status": job["status"]},
        )
    return job, OutputStore(db, signer).artifacts.open(file_id)
