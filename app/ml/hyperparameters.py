"""The one pass over a job's hyperparameters, in this order, once:

1. names, types and ranges, with scikit-learn's own constraints and messages
   (``ParamSpec.check``; numbers finite, ints within signed 64 bits);
2. the fleet's bounds on costly values (``Algorithm.bounds``; sklearn's default is
   always accepted);
3. combinations of values the estimator cannot fit, from the rules in
   ``app.ml.combinations`` (constraints as data, no fit);
4. rules that need the dataset's shape (``DataShape``, read from the dataset's
   stored profile: rows left for training, number of classes).

Every step is a bounded, in-memory check: nothing is fitted and no lock is taken, so a
request is answered at once. A bad request is a 400, never a failed job.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ValidationError
from app.ml.combinations import check_combinations
from app.ml.constraints import ParamSpec
from app.ml.registry import EXCLUDED_PARAMS, TASKS, Algorithm, hyperparameter_specs, list_algorithms

# Fleet bound keys: (comparison that breaks it, word for the message, types it applies to).
_LIMITS = {
    "min": (operator.lt, ">=", (int, float)),
    "max": (operator.gt, "<=", (int, float)),
    "max_float": (operator.gt, "<=", (float,)),
}
# Values that need two classes: an n-class dataset cannot fit them.
_BINARY_ONLY = {"loss": "exponential", "solver": "liblinear"}


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
) -> dict[str, Any]:
    """The full effective hyperparameters (sklearn defaults + ``params``) for ``task``.

    Raises ValidationError for an unsupported task, an unknown name, a value sklearn
    rejects (or that cannot be stored), a value over a fleet bound, a combination the
    estimator cannot fit, or a value the dataset ``data`` cannot fit. Never fits.
    """
    estimator = _estimator_for(algorithm, task)
    if not isinstance(params, Mapping):
        raise ValidationError(
            "Hyperparameters must be a JSON object.", {"field": "hyperparameters"}
        )
    specs = hyperparameter_specs(estimator)
    effective = {name: spec.default for name, spec in specs.items()}
    for name, value in params.items():
        spec = _spec_for(specs, name)
        effective[name] = spec.check(estimator.__name__, value)
        _check_bounds(estimator.__name__, algorithm, spec, effective[name])
    check_combinations(estimator, effective)
    if data is not None:
        _check_against_data(effective, data)
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


def _check_bounds(estimator_name: str, algorithm: Algorithm, spec: ParamSpec, value: Any) -> None:
    """ValidationError if ``value`` is outside the fleet bounds of ``spec``'s parameter.

    sklearn's default is always accepted (SVC's ``max_iter=-1``: sending it is the same
    as leaving it out).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if type(value) is type(spec.default) and value == spec.default:
        return
    for key, bound in algorithm.bounds.get(spec.name, {}).items():
        broken, word, types = _LIMITS[key]
        if isinstance(value, types) and broken(value, bound):
            kind = " as a float" if key == "max_float" else ""
            raise ValidationError(
                f"The {spec.name!r} parameter of {estimator_name} must be {word} {bound}{kind}"
                f" on this fleet. Got {value!r} instead.",
                {"field": f"hyperparameters.{spec.name}", key: bound},
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
    for name, value in _BINARY_ONLY.items():
        if params.get(name) == value and data.n_classes is not None and data.n_classes > 2:
            raise ValidationError(
                f"{name}={value!r} needs two classes; dataset '{data.dataset}' has"
                f" {data.n_classes}.",
                {"field": f"hyperparameters.{name}"},
            )
