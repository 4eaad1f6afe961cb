"""CSV parsing and profiling of datasets (upload-time checks, shared with the workers).

CSV dialect: UTF-8 text (a BOM is allowed), comma-separated, first line is the header.
A row with more fields than the header is an error; a row with fewer is padded with
missing values (pandas' behaviour), which the preprocessing imputes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from app.errors import DataError, UnsupportedMediaError
from app.ml.metrics import to_jsonable
from app.ml.preprocessing import (
    clean_target,
    column_type,
    is_integer_like,
    required_features,
    target_values,
)

MAX_CLASSES = 20  # an integer target with more distinct values is a regression target
MAX_RECORDED_CLASSES = 100  # a candidate target with more classes records only their number


@dataclass
class DatasetProfile:
    """What TensorFleet knows about a dataset for a given target column.

    ``n_samples`` counts rows with a target value (the rows training uses);
    ``column_types`` covers every column but the target. ``targets`` describes
    every column as a target a job may choose instead (see ``target_profile``),
    so a submit never has to read the file.
    """

    n_samples: int
    n_features: int
    features: list[str]
    target: str
    task: str
    column_types: dict[str, str]
    classes: list | None
    sha256: str
    size_bytes: int
    targets: dict[str, dict[str, Any]]


def read_csv(raw: bytes) -> pd.DataFrame:
    """Parse CSV bytes; DataError if empty/malformed, UnsupportedMediaError if not text."""
    if not raw.strip():
        raise DataError("The dataset file is empty.", {"field": "file"})
    text = _decode(raw)
    try:
        df = pd.read_csv(io.StringIO(text), on_bad_lines="error", low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError("The dataset has no columns.", {"field": "file"}) from None
    except pd.errors.ParserError as exc:
        raise _malformed(exc) from None
    if df.shape[1] == 0:
        raise DataError("The dataset has no columns.", {"field": "file"})
    if len(df) == 0:
        raise DataError("The dataset has a header but no data rows.", {"field": "file"})
    if not df.index.equals(pd.RangeIndex(len(df))):  # pandas made extra fields an index
        message = "Malformed CSV: line 2 has more fields than the header."
        raise DataError(message, {"field": "file", "line": 2})
    return df


def _decode(raw: bytes) -> str:
    """UTF-8 text of ``raw``; UnsupportedMediaError for binary or non-UTF-8 content."""
    details = {"field": "file", "expected": "text/csv (UTF-8)"}
    if b"\x00" in raw:
        raise UnsupportedMediaError("The file is binary, not CSV text.", details)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedMediaError("The file is not UTF-8 encoded CSV text.", details) from None


def _malformed(exc: Exception) -> DataError:
    """A DataError naming the line of a ragged row from pandas' parser error."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if not found:
        return DataError(f"Malformed CSV: {str(exc).strip()}", {"field": "file"})
    expected, line, saw = map(int, found.groups())
    return DataError(
        f"Malformed CSV: line {line} has {saw} fields, the header has {expected}.",
        {"field": "file", "line": line, "expected_fields": expected, "fields": saw},
    )


def infer_task(y: pd.Series) -> str:
    """``"classification"`` or ``"regression"`` for a target column.

    Classification for text, bool or category targets, and for whole-number targets
    that are binary or have at most ``MAX_CLASSES`` distinct values and at least three
    rows per value on average; regression otherwise (fractional numbers, many values).
    E.g. iris/wine/breast_cancer/digits are classification, diabetes is regression.
    """
    y = clean_target(y)
    if y.empty:
        raise DataError("The target column has no values.", {"field": "target"})
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    if not is_integer_like(y):
        return "regression"
    distinct = y.nunique()
    few = distinct <= 2 or (distinct <= MAX_CLASSES and distinct * 3 <= len(y))
    return "classification" if few else "regression"


def target_profile(column: pd.Series) -> dict[str, Any]:
    """What a job that predicts ``column`` needs to know before it is queued.

    ``{"task", "n_samples", "n_classes", "classes", "class_counts"}`` (the class fields
    for classification only; ``classes`` and ``class_counts`` in the same order, left
    out above ``MAX_RECORDED_CLASSES``), or ``{"error": message}`` when the column
    cannot be a target.
    """
    y = clean_target(column)
    if y.nunique() < 2:
        return {"error": f"Target column '{column.name}' needs at least two distinct values."}
    task = infer_task(y)
    profile: dict[str, Any] = {"task": task, "n_samples": len(y)}
    if task == "classification":
        counts = y.value_counts()
        with contextlib.suppress(TypeError):  # labels of mixed types keep pandas' order
            counts = counts.sort_index()
        profile["n_classes"] = len(counts)
        if len(counts) <= MAX_RECORDED_CLASSES:
            profile["classes"] = [to_jsonable(label) for label in counts.index]
            profile["class_counts"] = [int(n) for n in counts.to_numpy()]
    return profile


def profile_dataset(raw: bytes, target: str) -> tuple[pd.DataFrame, DatasetProfile]:
    """Parse and profile a CSV for ``target``; DataError if it cannot be trained on."""
    df = read_csv(raw)
    y = target_values(df, target)
    task = infer_task(y)
    classes = sorted(to_jsonable(v) for v in y.unique()) if task == "classification" else None
    if classes is not None and len(classes) < 2:
        message = f"Target column {target!r} has a single class ({classes[0]!r}); two are needed."
        raise DataError(message, {"field": "target"})
    features = required_features(df, target)
    profile = DatasetProfile(
        n_samples=len(y),
        n_features=len(features),
        features=[str(f) for f in features],
        target=target,
        task=task,
        column_types={str(c): column_type(df[c]) for c in df.columns if c != target},
        classes=classes,
        sha256=hashlib.sha256(raw).hexdigest(),
        size_bytes=len(raw),
        targets={str(c): target_profile(df[c]) for c in df.columns},
    )
    return df, profile
