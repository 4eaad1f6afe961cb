"""Validation of user hyperparameters with scikit-learn's own constraints.

Everything that can be checked without the dataset is checked here, so that a bad request
is a 400 rather than a failed job: names, types and ranges (sklearn's messages), the
fleet bounds, and cross-parameter combinations (by a smoke fit on a tiny synthetic
dataset, see ``_smoke_fit``).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    _InstancesOf,
    validate_parameter_constraints,
)

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


def validate_hyperparameters(
    algorithm: Algorithm, task: str, params: Mapping[str, Any], *, smoke_fit: bool = True
) -> dict[str, Any]:
    """The full effective hyperparameters (sklearn defaults + ``params``) for ``task``.

    Raises ValidationError for an unsupported task, an unknown name, a value sklearn
    rejects, a value over a fleet bound, or a combination the estimator cannot fit.
    Integral floats (JSON ``10.0``) become ints where only an int is valid.
    ``smoke_fit=False`` skips the combination check (``_smoke_fit``), for params that
    already passed it, e.g. a job's stored effective set.
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
        effective[name] = _check_value(estimator.__name__, spec, value)
        _check_bounds(estimator.__name__, algorithm, name, effective[name])
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


def _check_value(estimator_name: str, spec: ParamSpec, value: Any) -> Any:
    """``value`` if sklearn's constraints accept it (ints for integral floats if needed)."""
    details = {"field": f"hyperparameters.{spec.name}", "constraints": spec.texts()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"The {spec.name!r} parameter must be a finite number.", details)
    if isinstance(value, bool) and not _accepts_bool(spec):
        raise ValidationError(_sklearn_message(estimator_name, spec, value), details)
    try:
        _validate(estimator_name, spec, value)
    except InvalidParameterError as exc:
        if (
            isinstance(value, float)
            and value.is_integer()
            and _is_valid(estimator_name, spec, int(value))
        ):
            return int(value)
        raise ValidationError(str(exc), details) from None
    return value


def _validate(estimator_name: str, spec: ParamSpec, value: Any) -> None:
    """sklearn's own check of ``value`` against the spec's (JSON-able) constraints."""
    validate_parameter_constraints(
        {spec.name: list(spec.constraints)}, {spec.name: value}, estimator_name
    )


def _is_valid(estimator_name: str, spec: ParamSpec, value: Any) -> bool:
    """Whether sklearn's constraints accept ``value``."""
    try:
        _validate(estimator_name, spec, value)
    except InvalidParameterError:
        return False
    return True


def _accepts_bool(spec: ParamSpec) -> bool:
    """Whether a non-numeric constraint accepts booleans (``True`` is an int to Python)."""
    numeric = (Interval, _InstancesOf)
    return any(c.is_satisfied_by(True) for c in spec.objects() if not isinstance(c, numeric))


def _sklearn_message(estimator_name: str, spec: ParamSpec, value: Any) -> str:
    """The message sklearn's validation would give for a rejected ``value``."""
    texts = spec.texts()
    allowed = texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"
    return (
        f"The {spec.name!r} parameter of {estimator_name} must be {allowed}. Got {value!r} instead."
    )


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
