"""Prediction inputs → a DataFrame of the model's raw feature columns, checked.

Accepted, as MLflow's scoring server does: exactly one of ``dataframe_split``
(``{"columns": [...], "data": [[...]]}``), ``dataframe_records`` (``[{...}, ...]``),
``instances`` (records, or rows in feature order) or ``inputs`` (records, or
``{"column": [values]}``), or a CSV body. A missing column, an unknown column or a
value of the wrong type is a 400 naming each bad column, and never echoes the
caller's data back.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from app.errors import PayloadTooLargeError, ValidationError
from app.ml.preprocessing import NUMERIC

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def frame_from_json(body: Any, features: list[str], max_rows: int) -> pd.DataFrame:
    """The rows of an MLflow-format JSON body."""
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.", {"field": "body"})
    given = [key for key in FORMATS if key in body]
    unknown = sorted(set(body) - set(FORMATS))
    if len(given) != 1 or unknown:
        raise ValidationError(
            f"Send exactly one of {', '.join(FORMATS)}.",
            {"field": "body", "allowed": list(FORMATS), "unknown": unknown},
        )
    key = given[0]
    rows = _rows(key, body[key], features)
    _cap(len(rows) if isinstance(rows, list) else 0, max_rows)
    try:
        frame = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    except (ValueError, TypeError):
        raise ValidationError(f"'{key}' is not a table of rows.", {"field": key}) from None
    _cap(len(frame), max_rows)
    return frame


def frame_from_csv(raw: bytes, max_rows: int) -> pd.DataFrame:
    """The rows of a ``text/csv`` body (header first)."""
    try:
        frame = pd.read_csv(io.BytesIO(raw), nrows=max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise ValidationError("The CSV body cannot be parsed.", {"field": "body"}) from None
    _cap(len(frame), max_rows)
    return frame


def _rows(key: str, value: Any, features: list[str]) -> Any:
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise ValidationError("dataframe_split needs 'columns' and 'data'.", {"field": key})
        columns = value.get("columns", features)
        if not isinstance(columns, list) or not all(isinstance(r, list) for r in value["data"]):
            raise ValidationError("dataframe_split needs lists of rows.", {"field": key})
        if any(len(row) != len(columns) for row in value["data"]):
            raise ValidationError("Every row needs one value per column.", {"field": key})
        return [dict(zip(columns, row, strict=True)) for row in value["data"]]
    if key == "inputs" and isinstance(value, dict):
        lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise ValidationError("inputs needs one list of values per column.", {"field": key})
        return [dict(zip(value, row, strict=True)) for row in zip(*value.values(), strict=True)]
    if not isinstance(value, list):
        raise ValidationError(f"'{key}' must be a list of rows.", {"field": key})
    if value and all(isinstance(row, list) for row in value):  # rows in feature order
        if any(len(row) != len(features) for row in value):
            raise ValidationError(
                f"Every row needs {len(features)} values, in the order {features}.",
                {"field": key, "columns": features},
            )
        return [dict(zip(features, row, strict=True)) for row in value]
    if not all(isinstance(row, dict) for row in value):
        raise ValidationError(f"'{key}' must hold records (objects) or rows.", {"field": key})
    return value


def _cap(rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise PayloadTooLargeError(
            f"At most {max_rows} rows per request (PREDICT_MAX_ROWS); use a batch job.",
            {"max_rows": max_rows},
        )


def check_columns(frame: pd.DataFrame, features: list[str], types: dict[str, str]) -> pd.DataFrame:
    """``frame`` with exactly the model's features, numeric ones as numbers; ValidationError
    naming every missing, unknown or mistyped column otherwise."""
    if frame.empty:
        raise ValidationError("No rows to predict.", {"field": "body"})
    columns = [str(c) for c in frame.columns]
    missing = [f for f in features if f not in columns]
    unknown = [c for c in columns if c not in features]
    mistyped = [
        f for f in features if f in columns and types.get(f) == NUMERIC and not _numeric(frame[f])
    ]
    if missing or unknown or mistyped:
        problems = {"missing": missing, "unknown": unknown, "wrong_type": mistyped}
        named = "; ".join(
            f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in problems.items() if v
        )
        raise ValidationError(
            f"The columns do not match the model's features ({named}).",
            {"field": "columns", **problems, "expected": features},
        )
    checked = frame[features].copy()
    for feature in features:
        if types.get(feature) == NUMERIC:
            checked[feature] = pd.to_numeric(checked[feature], errors="coerce").astype(float)
        else:
            checked[feature] = checked[feature].astype(object)
    return checked


def _numeric(column: pd.Series) -> bool:
    """Whether every value is a number or missing (booleans are not numbers)."""
    values = column.dropna()
    if values.map(lambda v: isinstance(v, bool | np.bool_)).any():
        return False
    converted = pd.to_numeric(values, errors="coerce")
    return not converted.isna().any()
