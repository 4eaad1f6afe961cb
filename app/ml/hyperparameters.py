"""The one pass over a job's hyperparameters, in this order, once:

1. names, types and ranges, with scikit-learn's own constraints and messages
   (``ParamSpec.check``);
2. the fleet's bounds on costly values (``Algorithm.bounds``);
3. rules that need the dataset's shape (``DataShape``, read from the dataset's
   stored profile: rows left for training, number of classes);
4. combinations of values, by a smoke fit on a tiny synthetic dataset.

So a bad request is a 400, never a failed job.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import ValidationError
from app.ml.constraints import ParamSpec
from app.ml.registry import (
    EXCLUDED_PARAMS,
    TASKS,
    Algorithm,
    build_estimator,
    hyperparameter_specs,
    list_algorithms,
)

# Smoke-fit overrides keeping the check fast and independent of the real dataset's size.
_SMOKE_CAPS = {"n_estimators": 2, "max_iter": 20, "n_neighbors": 3}
_SMOKE_INT_TO_ONE = ("max_features", "max_samples")
# catch_warnings swaps process-wide state: serialize smoke fits of concurrent API threads.
_WARNINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class DataShape:
    """What the dataset rules need: the dataset's name, training rows, classes (or None)."""

    dataset: str
    n_train: int
    n_classes: int | None

    @classmethod
    def for_split(
        cls, dataset: str, n_samples: int, test_size: float, n_classes: int | None
    ) -> DataShape:
        """The shape left for fitting after the test split (scikit-learn rounds the test up)."""
        return cls(dataset, n_samples - math.ceil(n_samples * test_size), n_classes)


def validate_hyperparameters(
    algorithm: Algorithm,
    task: str,
    params: Mapping[str, Any],
    *,
    data: DataShape | None = None,
    smoke_fit: bool = True,
) -> dict[str, Any]:
    """The full effective hyperparameters (sklearn defaults + ``params``) for ``task``.

    Raises ValidationError for an unsupported task, an unknown name, a value sklearn
    rejects, a value over a fleet bound, a value the dataset ``data`` cannot fit, or a
    combination the estimator cannot fit. ``smoke_fit=False`` skips the combination
    check, for params that already passed it (a job's stored effective set).
    """
    estimator = _estimator_for(algorithm, task)
    if not isinstance(params, Mapping):
        raise ValidationError(
            "Hyperparameters must be a JSON object.", {"field": "hyperparameters"}
        )
    specs = hyperparameter_specs(estimator)
    effective = {name: spec.default for name, spec in specs.items()}
    for name, value in params.items():
        effective[name] = _spec_for(specs, name).check(estimator.__name__, value)
        _check_bounds(estimator.__name__, algorithm, name, effective[name])
    if data is not None:
        _check_against_data(effective, data)
    if params and smoke_fit:
        _smoke_fit(algorithm, task, effective)
    return effective


def _estimator_for(algorithm: Algorithm, task: str) -> type:
    """The estimator class of ``algorithm`` for ``task``, or a ValidationError."""
    if task not in TASKS:
        raise ValidationError(f"Unknown task {task!r}.", {"field": "task", "allowed": list(TASKS)})
    if task not in algorithm.estimators:
        allowed = sorted(alg.name for alg in list_algorithms() if task in alg.estimators)
        raise ValidationError(
            f"Algorithm {algorithm.name!r} does not support {task} datasets;"
            f" it supports: {', '.join(algorithm.tasks)}.",
            {"field": "algorithm", "allowed": allowed},
        )
    return algorithm.estimators[task]


def _spec_for(specs: Mapping[str, ParamSpec], name: str) -> ParamSpec:
    """The spec of hyperparameter ``name``, or a ValidationError listing the valid names."""
    if isinstance(name, str) and name in specs:
        return specs[name]
    if name == "random_state":
        message = "'random_state' is not a hyperparameter; set it at the top level of the job."
    elif name in EXCLUDED_PARAMS:
        message = f"Hyperparameter {name!r} is set by the worker and cannot be chosen."
    else:
        message = f"Unknown hyperparameter {name!r}."
    raise ValidationError(message, {"field": f"hyperparameters.{name}", "allowed": sorted(specs)})


def _check_bounds(estimator_name: str, algorithm: Algorithm, name: str, value: Any) -> None:
    """ValidationError if ``value`` is outside the fleet bounds of ``name``."""
    if value is None or isinstance(value, (bool, str)):
        return
    bounds = algorithm.bounds.get(name, {})
    for key, word, broken in (("max", "<=", value.__gt__), ("min", ">=", value.__lt__)):
        if key in bounds and broken(bounds[key]):
            raise ValidationError(
                f"The {name!r} parameter of {estimator_name} must be {word} {bounds[key]} on this"
                f" fleet. Got {value!r} instead.",
                {"field": f"hyperparameters.{name}", key: bounds[key]},
            )


def _check_against_data(params: Mapping[str, Any], data: DataShape) -> None:
    """ValidationError when ``params`` cannot fit ``data.n_train`` rows of its classes."""
    neighbors = params.get("n_neighbors")
    if isinstance(neighbors, int) and neighbors > data.n_train:
        raise ValidationError(
            f"n_neighbors={neighbors} exceeds the {data.n_train} training rows of dataset"
            f" '{data.dataset}'.",
            {"field": "hyperparameters.n_neighbors", "max": data.n_train},
        )
    if params.get("loss") == "exponential" and data.n_classes is not None and data.n_classes > 2:
        raise ValidationError(
            f"loss='exponential' needs two classes; dataset '{data.dataset}' has {data.n_classes}.",
            {"field": "hyperparameters.loss"},
        )


def _smoke_fit(algorithm: Algorithm, task: str, params: Mapping[str, Any]) -> None:
    """Fit and predict on a tiny synthetic dataset to catch invalid combinations.

    Cost-driving and size-dependent values are reduced first (``_SMOKE_CAPS``; int
    ``max_features``/``max_samples`` become 1), so only combinations that fail on any
    data are rejected (e.g. ``oob_score`` without ``bootstrap``, kd_tree with cosine).
    """
    smoke = dict(params)
    for name, cap in _SMOKE_CAPS.items():
        if type(smoke.get(name)) is int and smoke[name] > cap:
            smoke[name] = cap
    for name in _SMOKE_INT_TO_ONE:
        if type(smoke.get(name)) is int:
            smoke[name] = 1
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = np.array(["a", "b"] * 30) if task == "classification" else np.abs(X[:, 0]) + 1.0
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_estimator(algorithm, task, smoke, random_state=0).fit(X, y).predict(X[:5])
    except Exception as exc:  # whatever the estimator raises, the combination is unusable
        raise ValidationError(
            f"Invalid hyperparameters for {algorithm.estimators[task].__name__}: {exc}",
            {"field": "hyperparameters"},
        ) from None
