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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.errors import PayloadTooLargeError, ValidationError
from app.ml.metrics import to_jsonable
from app.ml.preprocessing import NUMERIC

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


Table = dict[str, list[Any]]  # column → its values, one per row, as the request gave them


@dataclass
class Checked:
    """A request's rows, checked: one array per model feature (float64 for numeric ones, with
    NaN for missing values; objects for categorical ones), in the model's feature order."""

    arrays: dict[str, np.ndarray]
    count: int

    def __getitem__(self, feature: str) -> np.ndarray:
        return self.arrays[feature]

    def frame(self) -> pd.DataFrame:
        """The rows as the DataFrame a scikit-learn Pipeline takes."""
        return pd.DataFrame(self.arrays, copy=False)

    def records(self, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` rows as JSON-able records (NaN as None)."""
        shown = range(min(limit, self.count))
        return [{f: to_jsonable(values[i]) for f, values in self.arrays.items()} for i in shown]


def frame_from_json(body: Any, features: list[str], max_rows: int) -> Table:
    """The rows of an MLflow-format JSON body, as columns."""
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
    _cap(len(rows), max_rows)
    if not all(isinstance(row, dict) for row in rows):
        raise ValidationError(f"'{key}' is not a table of rows.", {"field": key})
    columns = dict.fromkeys(name for row in rows for name in row)
    return {str(name): [row.get(name) for row in rows] for name in columns}


def frame_from_csv(raw: bytes, max_rows: int) -> Table:
    """The rows of a ``text/csv`` body (header first), as columns."""
    try:
        frame = pd.read_csv(io.BytesIO(raw), nrows=max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise ValidationError("The CSV body cannot be parsed.", {"field": "body"}) from None
    _cap(len(frame), max_rows)
    return {str(c): frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in frame}


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


def check_columns(table: Table, features: list[str], types: dict[str, str]) -> Checked:
    """The model's features of ``table``, numeric ones as floats; ValidationError naming
    every missing, unknown or mistyped column otherwise."""
    count = len(next(iter(table.values()))) if table else 0
    if count == 0:
        raise ValidationError("No rows to predict.", {"field": "body"})
    missing = [f for f in features if f not in table]
    unknown = [c for c in table if c not in features]
    arrays: dict[str, np.ndarray] = {}
    mistyped = []
    for feature in features:
        if feature not in table:
            continue
        values = table[feature]
        if types.get(feature) != NUMERIC:
            arrays[feature] = _as_categories(values)
        elif (numbers := _as_numbers(values)) is None:
            mistyped.append(feature)
        else:
            arrays[feature] = numbers
    if missing or unknown or mistyped:
        problems = {"missing": missing, "unknown": unknown, "wrong_type": mistyped}
        named = "; ".join(
            f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in problems.items() if v
        )
        raise ValidationError(
            f"The columns do not match the model's features ({named}).",
            {"field": "columns", **problems, "expected": features},
        )
    return Checked(arrays, count)


def _as_numbers(values: list[Any]) -> np.ndarray | None:
    """``values`` as float64 (None/NaN → NaN), or None if one is not a number (booleans are
    not numbers; numeric strings, as CSV cells or JSON strings, are)."""
    if all(type(v) in _NUMBER_TYPES or v is None for v in values):  # the JSON fast path
        return np.array(values, dtype=float)
    series = pd.Series(values, dtype=object)
    present = series.dropna()
    if present.map(lambda v: isinstance(v, bool | np.bool_)).any():
        return None
    converted = pd.to_numeric(present, errors="coerce")
    if converted.isna().any():
        return None
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


_NUMBER_TYPES = (int, float)


def _as_categories(values: list[Any]) -> np.ndarray:
    """``values`` as a 1-D object array, None as NaN (missing, as in a CSV the model was
    trained on)."""
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = np.nan if value is None else value
    return array
