"""Algorithm registry: the scikit-learn estimators TensorFleet trains, and their limits.

Hyperparameters are derived from scikit-learn itself (see ``app.ml.constraints``); the
registry adds what the fleet decides: params the worker fixes and bounds on costly ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from types import MappingProxyType
from typing import Any

from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils._param_validation import Interval

from app.errors import ValidationError
from app.ml.constraints import ParamSpec, derive_specs, init_params

TASKS = ("classification", "regression")

# Set by the worker on every estimator that has them; never user-settable.
FIXED_PARAMS: Mapping[str, Any] = {"n_jobs": 1, "verbose": 0, "warm_start": False, "copy_X": True}
# Fleet-protecting limits, applied to every algorithm whose estimators have the parameter
# and where they narrow sklearn's own range. ``min``/``max`` bound any number, ``max_float``
# a float only (``max_samples``: a float is a multiple of the training rows, an int a count).
# sklearn's default is always accepted, e.g. SVC's ``max_iter=-1`` ("no limit").
FLEET_BOUNDS: Mapping[str, Mapping[str, Any]] = {
    "n_estimators": {"max": 2000},
    "max_iter": {"min": 1, "max": 100_000},
    "n_neighbors": {"max": 1000},
    "max_depth": {"max": 1000},
    "cache_size": {"max": 2000},
    "C": {"max": 1e6},
    "tol": {"min": 1e-10, "max": 1.0},
    "alpha": {"max": 1e10},
    "intercept_scaling": {"max": 1e6},
    "max_samples": {"max": 10_000_000, "max_float": 10.0},
}
# sklearn declares ``None`` for these (NeighborsBase, for the radius estimators), but the
# registered estimators cannot fit it.
NOT_NONE = frozenset({"n_neighbors"})
# ``random_state`` is a top-level job field, so it is not a hyperparameter either.
EXCLUDED_PARAMS = frozenset({"random_state", *FIXED_PARAMS})


@dataclass(frozen=True, eq=False)
class Algorithm:
    """One trainable algorithm: a scikit-learn estimator class per supported task.

    Registered algorithms are singletons: equality and hashing are by identity.
    """

    name: str
    estimators: Mapping[str, type]
    bounds: Mapping[str, Mapping[str, Any]]
    fixed: Mapping[str, Any]
    scale_features: bool = True  # False for trees: splits do not depend on a feature's scale

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this algorithm supports, in ``TASKS`` order."""
        return tuple(task for task in TASKS if task in self.estimators)


def hyperparameter_specs(estimator: type) -> Mapping[str, ParamSpec]:
    """User-settable hyperparameters of an estimator class: sklearn's, minus the excluded."""
    return derive_specs(estimator, EXCLUDED_PARAMS, NOT_NONE)


def _make(
    name: str,
    classifier: type | None,
    regressor: type | None,
    ignore_fixed: tuple[str, ...] = (),
    scale_features: bool = True,
) -> Algorithm:
    """An Algorithm with the fixed params and bounds its estimators have.

    ``ignore_fixed`` names fixed params the worker must leave alone (still not settable),
    e.g. ``n_jobs`` of LogisticRegression: setting it has no effect and warns since 1.8.
    ``scale_features=False`` (trees) leaves numeric features unscaled: the splits are the
    same, and the ONNX copy then reproduces them exactly (a float32 scaler moves values
    across split thresholds; see ``app.ml.onnx_format``).
    """
    pairs = zip(TASKS, (classifier, regressor), strict=True)
    estimators = {task: est for task, est in pairs if est is not None}
    names = set().union(*(init_params(est) for est in estimators.values()))
    bounds = {k: _narrowing(estimators.values(), k) for k in FLEET_BOUNDS if k in names}
    fixed = {k: v for k, v in FIXED_PARAMS.items() if k in names and k not in ignore_fixed}
    return Algorithm(
        name,
        MappingProxyType(estimators),
        MappingProxyType({k: v for k, v in bounds.items() if v}),
        MappingProxyType(fixed),
        scale_features,
    )


def _narrowing(estimators: Iterable[type], name: str) -> Mapping[str, Any]:
    """The fleet bounds of ``name`` that narrow sklearn's range for one of ``estimators``."""
    intervals = [
        c
        for est in estimators
        if name in (specs := hyperparameter_specs(est))
        for c in specs[name].objects()
        if isinstance(c, Interval)
    ]
    kept = {}
    for key, limit in FLEET_BOUNDS[name].items():
        relevant = [c for c in intervals if key != "max_float" or c.type is not Integral]
        if any(_beyond(c, key, limit) for c in relevant):
            kept[key] = limit
    return MappingProxyType(kept)


def _beyond(interval: Interval, key: str, limit: float) -> bool:
    """Whether sklearn's ``interval`` allows values beyond the fleet bound ``key=limit``."""
    if key == "min":
        return interval.left is None or interval.left < limit
    return interval.right is None or interval.right > limit


_ALGORITHMS = {
    alg.name: alg
    for alg in (
        _make("random_forest", RandomForestClassifier, RandomForestRegressor, scale_features=False),
        _make("decision_tree", DecisionTreeClassifier, DecisionTreeRegressor, scale_features=False),
        _make(
            "gradient_boosting",
            GradientBoostingClassifier,
            GradientBoostingRegressor,
            scale_features=False,
        ),
        _make("svm", SVC, SVR),
        _make("knn", KNeighborsClassifier, KNeighborsRegressor),
        _make("logistic_regression", LogisticRegression, None, ignore_fixed=("n_jobs",)),
        _make("linear_regression", None, LinearRegression),
        _make("ridge", None, Ridge),
    )
}


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm called ``name``; ValidationError if there is none."""
    if isinstance(name, str) and name in _ALGORITHMS:
        return _ALGORITHMS[name]
    allowed = sorted(_ALGORITHMS)
    raise ValidationError(
        f"Unknown algorithm {name!r}.", {"field": "algorithm", "allowed": allowed}
    )


def list_algorithms() -> list[Algorithm]:
    """All registered algorithms, sorted by name."""
    return [_ALGORITHMS[name] for name in sorted(_ALGORITHMS)]


def build_estimator(
    algorithm: Algorithm, task: str, params: Mapping[str, Any], random_state: int | None = None
) -> Any:
    """Unfitted estimator: ``params`` + fixed params (+ ``random_state`` if it takes one)."""
    estimator = algorithm.estimators[task]
    accepted = init_params(estimator)
    extra = {k: v for k, v in algorithm.fixed.items() if k in accepted}
    if "random_state" in accepted:
        extra["random_state"] = random_state
    return estimator(**params, **extra)


def describe_algorithm(alg: Algorithm) -> dict[str, Any]:
    """JSON-able description of an algorithm for ``GET /algorithms``.

    Each hyperparameter entry lists the ``tasks`` it applies to. When its description is
    the same for all those tasks, ``type``/``default``/``constraints``/``options`` are at
    the top of the entry; when it differs (e.g. ``criterion``), they are under
    ``by_task: {task: {...}}`` instead. Fleet bounds (``max``/``min``) are at the top.
    """
    per_task = {task: hyperparameter_specs(est) for task, est in alg.estimators.items()}
    names = list(dict.fromkeys(name for task in alg.tasks for name in per_task[task]))
    hyperparameters = {}
    for name in names:
        tasks = [task for task in alg.tasks if name in per_task[task]]
        variants = {task: per_task[task][name].describe() for task in tasks}
        first = variants[tasks[0]]
        same = all(v == first for v in variants.values())
        entry = dict(first) if same else {"by_task": variants}
        hyperparameters[name] = {"tasks": tasks, **entry, **alg.bounds.get(name, {})}
    return {
        "name": alg.name,
        "tasks": list(alg.tasks),
        "estimator": {
            t: f"{e.__module__.split('._')[0]}.{e.__name__}" for t, e in alg.estimators.items()
        },
        "hyperparameters": hyperparameters,
        "fixed": dict(alg.fixed),
    }
