"""Request bodies and URL pieces: values as plain JSON, the body of a prediction, a path
segment. Nothing here imports pandas or numpy; their values are recognised when the
caller has them loaded."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

# The bodies of POST /models/<ref>/predict (MLflow's scoring formats): exactly one key.
PREDICT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def segment(value: str | int) -> str:
    """``value`` as one path segment (``@`` kept: model references read as typed)."""
    return quote(str(value), safe="@")


def plain(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars and arrays unboxed, NaN and pandas' NA/NaT as
    null (a missing value), dates as ISO 8601; ValueError for an infinity."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError("JSON has no infinity: send a finite number or null")
        return value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    pandas = sys.modules.get("pandas")
    if pandas is not None and (value is pandas.NaT or value is pandas.NA):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def _is_dataframe(rows: Any) -> bool:
    """Whether ``rows`` is a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(rows, pandas.DataFrame)


def predict_body(rows: Any) -> dict[str, Any]:
    """The JSON body of a prediction for ``rows``:

    * a pandas DataFrame → ``dataframe_split`` (its columns and rows);
    * a list of dicts (one per row, column → value) → ``dataframe_records``;
    * a list of lists (values in the model's feature order) → ``instances``;
    * a dict with one of ``dataframe_split``, ``dataframe_records``, ``instances``,
      ``inputs`` → sent as it is (an MLflow scoring body);
    * any other dict → one row.
    """
    if _is_dataframe(rows):
        split = rows.to_dict(orient="split", index=False)
        return plain({"dataframe_split": {"columns": split["columns"], "data": split["data"]}})
    if isinstance(rows, Mapping):
        if any(key in rows for key in PREDICT_FORMATS):
            return plain(rows)
        return {"dataframe_records": [plain(rows)]}
    if isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
        rows = list(rows)
        if rows and all(isinstance(row, Mapping) for row in rows):
            return {"dataframe_records": plain(rows)}
        if rows and all(isinstance(row, Sequence) and not isinstance(row, str) for row in rows):
            return {"instances": plain(rows)}
        if not rows:
            return {"dataframe_records": []}
    raise TypeError(
        "rows must be a pandas DataFrame, a list of dicts, a list of lists or an MLflow body"
    )


def without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the entries that are None (query parameters not given)."""
    return {key: value for key, value in values.items() if value is not None}
