"""Hyperparameter checks that need the dataset's shape, done at request time from its profile.

``validate_hyperparameters`` checks everything the estimator alone decides; these rules
also depend on how many rows and classes the job will train on, so without them the
request would be accepted and the job would fail later as a ``data`` error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.errors import ValidationError


def training_rows(n_samples: int, test_size: float) -> int:
    """Rows left for fitting after the test split (scikit-learn rounds the test set up)."""
    return n_samples - math.ceil(n_samples * test_size)


def check_against_dataset(
    params: Mapping[str, Any], *, dataset: str, n_train: int, n_classes: int | None
) -> None:
    """Raise ValidationError when ``params`` cannot fit ``n_train`` rows of ``n_classes``."""
    neighbors = params.get("n_neighbors")
    if isinstance(neighbors, int) and neighbors > n_train:
        raise ValidationError(
            f"n_neighbors={neighbors} exceeds the {n_train} training rows of dataset '{dataset}'.",
            {"field": "hyperparameters.n_neighbors", "max": n_train},
        )
    if params.get("loss") == "exponential" and n_classes is not None and n_classes > 2:
        raise ValidationError(
            f"loss='exponential' needs two classes; dataset '{dataset}' has {n_classes}.",
            {"field": "hyperparameters.loss"},
        )
