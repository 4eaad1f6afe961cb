"""The preprocessing step of every model Pipeline, and the column rules behind it.

Columns are numeric (imputed with the median, standardized unless the estimator is a
tree) or categorical (object,
string, category or bool: imputed with the most frequent value, one-hot encoded with
unseen categories ignored). ID-like columns are not features. Only scikit-learn classes
go into the Pipeline, so a saved model loads without this package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from app.errors import DataError

NUMERIC, CATEGORICAL, ID = "numeric", "categorical", "id"


def is_numeric(series: pd.Series) -> bool:
    """Whether a column is numeric (bool counts as categorical)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def is_integer_like(series: pd.Series) -> bool:
    """Whether a numeric column holds only whole numbers (missing values ignored)."""
    if not is_numeric(series):
        return False
    if pd.api.types.is_integer_dtype(series):
        return True
    values = series.dropna().to_numpy(dtype=float)
    return bool(np.isfinite(values).all() and (values == np.round(values)).all())


def is_id_like(series: pd.Series) -> bool:
    """An identifier: no missing value, distinct in every row, and integer-like or text.

    Floats with fractions that merely happen to be unique are not IDs; neither are bools.
    """
    if len(series) < 2 or series.isna().any() or pd.api.types.is_bool_dtype(series):
        return False
    if is_numeric(series) and not is_integer_like(series):
        return False
    return bool(series.nunique(dropna=False) == len(series))


def column_type(series: pd.Series) -> str:
    """``"id"``, ``"numeric"`` or ``"categorical"`` for a (non-target) column."""
    if is_id_like(series):
        return ID
    return NUMERIC if is_numeric(series) else CATEGORICAL


def feature_columns(df: pd.DataFrame, target: str) -> list[str]:
    """The columns a model learns from: all but the target and ID-like columns."""
    return [c for c in df.columns if c != target and column_type(df[c]) != ID]


def build_preprocessor(
    df: pd.DataFrame, features: list[str], scale: bool = True
) -> ColumnTransformer:
    """An unfitted ColumnTransformer for ``features`` of ``df`` (raw DataFrame in); with
    ``scale=False`` numeric features are imputed but not standardized."""
    numeric = [c for c in features if is_numeric(df[c])]
    categorical = [c for c in features if c not in numeric]
    transformers = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append((NUMERIC, Pipeline(steps), numeric))
    if categorical:
        steps = [
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
        transformers.append((CATEGORICAL, Pipeline(steps), categorical))
    return ColumnTransformer(transformers, remainder="drop")


def clean_target(y: pd.Series) -> pd.Series:
    """The target without missing values; whole-number floats become ints (labels 1, not 1.0)."""
    y = y.dropna()
    if pd.api.types.is_float_dtype(y) and len(y) and is_integer_like(y):
        y = y.astype("int64")
    return y


def target_values(df: pd.DataFrame, target: str) -> pd.Series:
    """The cleaned target column (see ``clean_target``); DataError if absent or empty."""
    if target not in df.columns:
        allowed = [str(c) for c in df.columns]
        message = f"Target column {target!r} not found."
        raise DataError(message, {"field": "target", "allowed": allowed})
    y = clean_target(df[target])
    if y.empty:
        raise DataError(f"Target column {target!r} has no values.", {"field": "target"})
    return y


def required_features(df: pd.DataFrame, target: str) -> list[str]:
    """``feature_columns``; DataError if there are none."""
    features = feature_columns(df, target)
    if not features:
        message = "No feature columns left besides the target and ID-like columns."
        raise DataError(message, {"field": "target"})
    return features
