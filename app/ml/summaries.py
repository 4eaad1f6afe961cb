"""Summaries of feature values and of predictions, to read drift at a glance.

The same summary describes a model's training rows (recorded with the model) and the rows
it was asked to predict (from the prediction log), so the two sit side by side: numeric
features by count, missing, mean, std and quantiles; categorical ones by their most
frequent values' counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from app.ml.preprocessing import NUMERIC

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_CATEGORIES = 20  # categories listed per column; the rest are counted as "other"


def summarize(frame: pd.DataFrame, feature_types: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A summary per column of ``frame`` (numeric or categorical as ``feature_types`` says)."""
    return {
        str(column): (
            numeric_summary(frame[column])
            if feature_types.get(str(column)) == NUMERIC
            else category_summary(frame[column])
        )
        for column in frame.columns
    }


def numeric_summary(values: pd.Series) -> dict[str, Any]:
    """``{"type": "numeric", count, missing, mean, std, min, max, p5 … p95}``."""
    numbers = pd.to_numeric(values, errors="coerce")
    present = numbers.dropna().to_numpy(dtype=float)
    summary: dict[str, Any] = {
        "type": NUMERIC,
        "count": len(values),
        "missing": int(len(values) - len(present)),
    }
    if len(present):
        summary.update(
            mean=_round(present.mean()),
            std=_round(present.std()),
            min=_round(present.min()),
            max=_round(present.max()),
        )
        for q, value in zip(QUANTILES, np.quantile(present, QUANTILES), strict=True):
            summary[f"p{round(q * 100)}"] = _round(value)
    return summary


def category_summary(values: pd.Series) -> dict[str, Any]:
    """``{"type": "categorical", count, missing, counts: {value: n}, other}``."""
    present = values.dropna().astype(str)
    counts = present.value_counts()
    top = counts.head(TOP_CATEGORIES)
    return {
        "type": "categorical",
        "count": len(values),
        "missing": int(len(values) - len(present)),
        "counts": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[TOP_CATEGORIES:].sum()),
    }


def prediction_summary(predictions: list[Any], task: str) -> dict[str, Any]:
    """Class counts (classification) or a numeric summary (regression) of predictions."""
    series = pd.Series(predictions, dtype=object)
    if task == "regression":
        return numeric_summary(series)
    return category_summary(series)


def _round(value: float) -> float:
    return float(round(float(value), 6))
