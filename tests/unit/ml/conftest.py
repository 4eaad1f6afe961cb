"""Tiny in-memory datasets for the ml unit tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def _make_frame(task: str, n: int = 36, seed: int = 0) -> pd.DataFrame:
    """Numeric + categorical features with a few missing values, learnable target."""
    rng = np.random.RandomState(seed)
    x1 = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": rng.normal(size=n).round(3),
            "color": rng.choice(["red", "green", "blue"], size=n).astype(object),
        }
    )
    frame.loc[3, "x2"] = np.nan
    frame.loc[5, "color"] = np.nan
    if task == "classification":
        order = np.argsort(x1)
        labels = np.empty(n, dtype=object)
        labels[order] = np.repeat(["setosa", "versicolor", "virginica"], n // 3)
        frame["species"] = labels
    else:
        frame["price"] = 3.0 * x1 + rng.normal(scale=0.1, size=n) + 10.0
    return frame


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """Factory: ``make_frame(task, n=36, seed=0)``; target ``species`` or ``price``."""
    return _make_frame


@pytest.fixture
def classification_frame() -> pd.DataFrame:
    """36 rows, 3 balanced string classes (iris-like names) in ``species``."""
    return _make_frame("classification")


@pytest.fixture
def regression_frame() -> pd.DataFrame:
    """36 rows, float target ``price``."""
    return _make_frame("regression")
