"""The ``predictions`` collection: the log of online predictions, one record per request;
and ``prediction_inputs``: the same requests' input rows as columns, in blocks, for drift.

Each record: ``model_id``, ``model_name``, ``model_version``, ``at``, ``latency_ms``,
``engine``, ``request_id``, ``status`` (``ok`` or ``error``), ``rows``, and for
successful requests the first rows' ``inputs`` and ``outputs``. ``expires_at`` drives a
TTL index, so records go after ``PREDICTION_LOG_DAYS``.

A queued record may also carry ``input_columns`` (:data:`INPUT_COLUMNS`): those first rows
as one array per feature (float64, or objects for categorical features). They are not
stored in the record: each insert appends them to the model's input blocks, one document
per up to ``BLOCK_MAX_ROWS`` rows (and about ``BLOCK_BYTES``), so a drift check reads a
hundred documents instead of a hundred thousand records (on the local MongoDB server one
small document costs ~0.1 ms to read, whatever it holds). A block holds ``rows``,
``first_at`` / ``last_at``, ``expires_at`` (its newest row's), ``features``, ``at`` (each
row's time, float64 epoch seconds) and ``columns`` in feature order: ``{"values":
float64}`` or ``{"levels": [text], "codes": int32}`` (-1: missing), little-endian bytes.
A writer (process) extends its newest block of a model while that holds fewer than
``BLOCK_ROWS`` rows and spans less than ``BLOCK_SECONDS``: the longer block is inserted
with ``replaces`` naming the shorter one, which is deleted next (a reader skips a block
another one replaces, so no row is ever counted twice or lost).
"""

from __future__ import annotations

import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from bson import Binary, ObjectId
from pymongo import DESCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

PUBLIC_FIELDS = {"_id": 0, "expires_at": 0}
INPUT_COLUMNS = "input_columns"  # a queued record's input rows as columns (kept in blocks)
BLOCK_ROWS = 1000  # a block with fewer rows is extended by its writer's next insert
BLOCK_MAX_ROWS = 5000  # rows of one block at most
BLOCK_BYTES = 1 << 20  # about the most one block's arrays take
BLOCK_SECONDS = 3600.0  # a block is extended only while it spans less than this
_BLOCK_FIELDS = {"_id": 1, "rows": 1, "last_at": 1, "features": 1, "at": 1, "columns": 1,
                 "replaces": 1}  # fmt: skip
_OPEN: OrderedDict[tuple[str, str, str], tuple[str, int, float]] = OrderedDict()
_OPEN_LIMIT = 1000  # models whose open block a process remembers

Column = np.ndarray | tuple[list[str], np.ndarray]  # float64 values, or (levels, codes)


class PredictionRepository:
    """Insert batches of prediction records (and their input blocks); read them by model."""

    def __init__(self, db: Database) -> None:
        self._predictions = db.predictions
        self.inputs = InputBlocks(db)

    def insert_many(self, records: list[dict[str, Any]]) -> None:
        """Insert ``records`` (unordered: one bad record does not stop the others), then
        append their input columns to the input blocks (a failure there is logged: the
        records are the log; the blocks only feed drift checks)."""
        if not records:
            return
        docs = [{k: v for k, v in r.items() if k != INPUT_COLUMNS} for r in records]
        self._predictions.insert_many(docs, ordered=False)
        try:
            self.inputs.append(records)
        except PyMongoError as exc:
            log.warning("prediction log: input blocks of %d records lost: %s", len(records), exc)

    def recent(
        self,
        query: dict[str, Any],
        since: datetime | None = None,
        limit: int = 100,
        fields: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first: records matching ``query`` (and ``at >= since``), at most ``limit``."""
        match = dict(query)
        if since is not None:
            match["at"] = {"$gte": since}
        cursor = self._predictions.find(match, fields or PUBLIC_FIELDS)
        return list(cursor.sort("at", DESCENDING).limit(limit))


@dataclass
class InputWindow:
    """The logged input rows of one model in a time window: numeric columns as float64
    arrays, categorical ones as value counts (``missing`` counts their missing values)."""

    rows: int
    numeric: dict[str, np.ndarray]
    categorical: dict[str, dict[str, int]]
    missing: dict[str, int]
    truncated: bool  # more rows were in the window than were kept
    blocks: int


@dataclass
class _Chunk:
    features: list[str]
    at: np.ndarray
    columns: list[Column]

    @property
    def rows(self) -> int:
        return len(self.at)


class InputBlocks:
    """The ``prediction_inputs`` collection: logged input rows as columns, in blocks."""

    def __init__(self, db: Database) -> None:
        self._blocks = db.prediction_inputs
        self._db_name = db.name

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Add the ``input_columns`` of ``records`` (each with ``model_id``, ``at`` and
        ``expires_at``) to their models' blocks."""
        by_model: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if record.get(INPUT_COLUMNS):
                by_model.setdefault(record["model_id"], []).append(record)
        for group in by_model.values():
            features = list(group[0][INPUT_COLUMNS])
            self._append(features, [r for r in group if list(r[INPUT_COLUMNS]) == features])

    def _append(self, features: list[str], group: list[dict[str, Any]]) -> None:
        first = group[0]
        chunk = _chunk(features, group)
        expires = max(r["expires_at"] for r in group)
        key = (_writer(), self._db_name, first["model_id"])
        replaces, opened = None, _OPEN.pop(key, None)
        if opened is not None and (extended := self._extend(opened, chunk)) is not None:
            chunk, replaces, old_expiry = extended
            expires = max(expires, old_expiry) if isinstance(old_expiry, datetime) else expires
        meta: dict[str, Any] = {
            k: first[k] for k in ("model_id", "model_name", "model_version") if k in first
        }
        limit = _max_rows(chunk)
        for start in range(0, chunk.rows, limit):
            part = _slice(chunk, start, start + limit)
            doc = _document(part, meta, expires, replaces if start == 0 else None)
            self._blocks.insert_one(doc)
        if replaces is not None:
            self._blocks.delete_one({"_id": replaces})
        if part.rows < BLOCK_ROWS:
            _OPEN[key] = (doc["_id"], part.rows, float(part.at.min()))
            while len(_OPEN) > _OPEN_LIMIT:
                _OPEN.popitem(last=False)

    def _extend(
        self, opened: tuple[str, int, float], chunk: _Chunk
    ) -> tuple[_Chunk, str, Any] | None:
        """The open block with ``chunk`` after it (and its id and expiry), if it may grow."""
        block_id, rows, first_at = opened
        too_old = float(chunk.at.max()) - first_at > BLOCK_SECONDS
        if rows >= BLOCK_ROWS or too_old or rows + chunk.rows > _max_rows(chunk):
            return None
        doc = self._blocks.find_one({"_id": block_id})
        if doc is None or list(doc.get("features") or []) != chunk.features:
            return None
        return _merge(_from_document(doc), chunk), block_id, doc.get("expires_at")

    def window(self, model_id: str, since: datetime, until: datetime, max_rows: int) -> InputWindow:
        """The newest ``max_rows`` rows of ``model_id`` logged in ``[since, until]``."""
        query = {"model_id": model_id, "last_at": {"$gte": since}, "first_at": {"$lte": until}}
        cursor = self._blocks.find(query, _BLOCK_FIELDS).sort("last_at", DESCENDING)
        low, high = since.timestamp(), until.timestamp()
        kept: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
        replaced: set[str] = set()
        inside, cutoff = 0, -np.inf
        for doc in cursor:
            if inside >= max_rows and _timestamp(doc["last_at"]) < cutoff:
                break  # every later block is older than the newest max_rows rows
            if doc["_id"] in replaced:
                continue
            if doc.get("replaces"):
                replaced.add(doc["replaces"])
                if doc["replaces"] in kept:
                    inside -= int(kept.pop(doc["replaces"])[1].sum())
            at = np.frombuffer(doc["at"], dtype="<f8")
            mask = (at >= low) & (at <= high)
            kept[doc["_id"]] = (doc, mask)
            inside += int(mask.sum())
            if inside >= max_rows:
                times = np.concatenate([_at(d)[m] for d, m in kept.values()])
                cutoff = float(np.partition(times, len(times) - max_rows)[len(times) - max_rows])
        return _decode(list(kept.values()), inside, max_rows)


def _writer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _at(doc: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(doc["at"], dtype="<f8")


def _timestamp(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _decode(
    blocks: list[tuple[dict[str, Any], np.ndarray]], inside: int, max_rows: int
) -> InputWindow:
    """The columns of ``blocks`` (each with its in-window mask), newest ``max_rows`` rows."""
    if inside > max_rows:  # keep the newest max_rows of the rows inside the window
        times = np.concatenate([_at(doc)[mask] for doc, mask in blocks])
        newest = np.zeros(len(times), dtype=bool)
        newest[np.argpartition(-times, max_rows - 1)[:max_rows]] = True
        cuts = np.cumsum([0] + [int(mask.sum()) for _, mask in blocks])
        masks = []
        for (_doc, mask), start, stop in zip(blocks, cuts[:-1], cuts[1:], strict=True):
            narrowed = mask.copy()
            narrowed[np.flatnonzero(mask)] = newest[start:stop]
            masks.append(narrowed)
        blocks = [(doc, m) for (doc, _), m in zip(blocks, masks, strict=True)]
    numeric: dict[str, list[np.ndarray]] = {}
    categorical: dict[str, dict[str, int]] = {}
    missing: dict[str, int] = {}
    for doc, mask in blocks:
        for feature, column in zip(doc["features"], doc["columns"], strict=True):
            if "values" in column:
                values = np.frombuffer(column["values"], dtype="<f8")[mask]
                numeric.setdefault(feature, []).append(values)
                continue
            codes = np.frombuffer(column["codes"], dtype="<i4")[mask]
            counts = categorical.setdefault(feature, {})
            missing[feature] = missing.get(feature, 0) + int((codes < 0).sum())
            tally = np.bincount(codes[codes >= 0], minlength=len(column["levels"]))
            for level, count in zip(column["levels"], tally.tolist(), strict=True):
                if count:
                    counts[level] = counts.get(level, 0) + count
    return InputWindow(
        rows=min(inside, max_rows),
        numeric={f: np.concatenate(parts) for f, parts in numeric.items()},
        categorical=categorical,
        missing=missing,
        truncated=inside > max_rows,
        blocks=len(blocks),
    )


def _chunk(features: list[str], group: list[dict[str, Any]]) -> _Chunk:
    """The input columns of ``group`` (records of one model) as one chunk."""
    first = group[0][INPUT_COLUMNS]
    at = np.concatenate(
        [np.full(len(r[INPUT_COLUMNS][features[0]]), r["at"].timestamp()) for r in group]
    )
    columns: list[Column] = []
    for feature in features:
        values = np.concatenate([np.asarray(r[INPUT_COLUMNS][feature]) for r in group])
        if np.asarray(first[feature]).dtype.kind == "f":
            columns.append(values.astype("<f8", copy=False))
        else:
            columns.append(_categories(values))
    return _Chunk(features, at, columns)


def _categories(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Levels (as text) and int32 codes (-1: missing) of categorical ``values``."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    index: dict[str, int] = {}
    remap = np.array([index.setdefault(str(u), len(index)) for u in uniques], dtype="<i4")
    return list(index), _recode(codes, remap)


def _recode(codes: np.ndarray, remap: np.ndarray) -> np.ndarray:
    """``codes`` through ``remap`` (-1, missing, stays -1), as int32."""
    if not len(remap):
        return np.full(len(codes), -1, dtype="<i4")
    return np.where(codes >= 0, remap[np.maximum(codes, 0)], -1).astype("<i4")


def _merge(old: _Chunk, new: _Chunk) -> _Chunk:
    columns: list[Column] = []
    for before, after in zip(old.columns, new.columns, strict=True):
        if isinstance(before, np.ndarray) and isinstance(after, np.ndarray):
            columns.append(np.concatenate([before, after]))
            continue
        (levels, codes), (more, more_codes) = before, after
        index = {level: i for i, level in enumerate(levels)}
        remap = np.array([index.setdefault(level, len(index)) for level in more], dtype="<i4")
        columns.append((list(index), np.concatenate([codes, _recode(more_codes, remap)])))
    return _Chunk(old.features, np.concatenate([old.at, new.at]), columns)


def _slice(chunk: _Chunk, start: int, stop: int) -> _Chunk:
    columns: list[Column] = [
        c[start:stop] if isinstance(c, np.ndarray) else (c[0], c[1][start:stop])
        for c in chunk.columns
    ]
    return _Chunk(chunk.features, chunk.at[start:stop], columns)


def _max_rows(chunk: _Chunk) -> int:
    """Rows of ``chunk``'s kind that fit one block."""
    size = chunk.at.nbytes + sum(
        c.nbytes if isinstance(c, np.ndarray) else c[1].nbytes + sum(len(v) + 8 for v in c[0])
        for c in chunk.columns
    )
    per_row = max(size / max(chunk.rows, 1), 1.0)
    return int(min(max(BLOCK_BYTES // per_row, 1), BLOCK_MAX_ROWS))


def _document(
    chunk: _Chunk, meta: dict[str, Any], expires: datetime, replaces: str | None
) -> dict[str, Any]:
    def moment(seconds: float) -> datetime:
        return datetime.fromtimestamp(round(seconds, 3), UTC)

    columns = [
        {"values": Binary(c.astype("<f8").tobytes())}
        if isinstance(c, np.ndarray)
        else {"levels": c[0], "codes": Binary(c[1].astype("<i4").tobytes())}
        for c in chunk.columns
    ]
    return {
        "_id": str(ObjectId()),
        **meta,
        "writer": _writer(),
        "rows": chunk.rows,
        "first_at": moment(float(chunk.at.min())),
        "last_at": moment(float(chunk.at.max())),
        "expires_at": expires,
        "features": chunk.features,
        "at": Binary(chunk.at.astype("<f8").tobytes()),
        "columns": columns,
        **({"replaces": replaces} if replaces else {}),
    }


def _from_document(doc: dict[str, Any]) -> _Chunk:
    columns: list[Column] = [
        np.frombuffer(c["values"], dtype="<f8").copy()
        if "values" in c
        else (list(c["levels"]), np.frombuffer(c["codes"], dtype="<i4").copy())
        for c in doc["columns"]
    ]
    return _Chunk(list(doc["features"]), _at(doc).copy(), columns)
