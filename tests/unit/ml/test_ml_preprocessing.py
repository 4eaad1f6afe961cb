"""Feature selection (ID-like columns) and the preprocessing ColumnTransformer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.ml.preprocessing import build_preprocessor, feature_columns


def test_id_like_columns_are_not_features():
    frame = pd.DataFrame(
        {
            "row_id": [7, 3, 9, 1],
            "code": ["a1", "b2", "c3", "d4"],
            "whole_floats": [1.0, 2.0, 3.0, 4.0],
            "measure": [0.11, 2.5, 3.75, 4.2],  # unique but continuous: a feature
            "count": [1, 1, 2, 3],
            "flag": [True, False, True, False],
            "target": ["x", "y", "x", "y"],
        }
    )
    assert feature_columns(frame, "target") == ["measure", "count", "flag"]


def test_columns_with_missing_values_are_not_ids():
    frame = pd.DataFrame({"ref": ["a", "b", None], "target": [1, 2, 3]})
    assert feature_columns(frame, "target") == ["ref"]


def test_preprocessor_routes_numeric_and_categorical_columns():
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 5.0],
            "colour": ["red", None, "blue", "red"],
            "flag": [True, False, True, True],
        }
    )
    preprocessor = build_preprocessor(frame, ["x", "colour", "flag"])
    out = preprocessor.fit_transform(frame)
    out = out.toarray() if hasattr(out, "toarray") else out
    routes = {name: cols for name, _, cols in preprocessor.transformers_ if name != "remainder"}
    assert routes == {"numeric": ["x"], "categorical": ["colour", "flag"]}
    assert out.shape == (4, 1 + 2 + 2)  # x; colour blue/red (NaN -> most frequent); flag
    assert not np.isnan(out).any()
    assert np.isclose(out[:, 0].mean(), 0.0)
    unseen = pd.DataFrame({"x": [2.0], "colour": ["green"], "flag": [False]})
    assert preprocessor.transform(unseen).shape == (1, 5)
