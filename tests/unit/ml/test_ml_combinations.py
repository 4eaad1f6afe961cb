"""The combination rules are exact: a sweep fits every pair of exposed values.

For every registered algorithm and task (classification with 2 and 3 classes), every pair
of values of its categorical, boolean and None-able hyperparameters (plus a few
representative numbers) is fitted on a small synthetic dataset, and
``validate_hyperparameters`` must reject exactly the pairs whose fit raises. The
parameters a rule relates are also swept as a full product (e.g. KNN's algorithm x metric
x p), since a rule may need all of them. Tests may fit; the request path never does.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils._param_validation import Options, _Booleans, _NoneConstraint

from app.errors import ValidationError
from app.ml.combinations import RULES
from app.ml.constraints import ParamSpec
from app.ml.hyperparameters import DataShape, validate_hyperparameters
from app.ml.registry import (
    Algorithm,
    build_estimator,
    get_algorithm,
    hyperparameter_specs,
    list_algorithms,
)

# Keep fits fast and independent of the data's size, as the old request-time smoke fit did.
CAPS = {"n_estimators": 2, "max_iter": 20, "n_neighbors": 3}
# Representative numbers of parameters that also take options, booleans or None, or that
# rules test by value (kept only where the parameter's spec accepts them).
NUMBERS: Mapping[str, tuple[Any, ...]] = {
    "l1_ratio": (0.0, 0.5, 1.0),
    "max_samples": (0.5, 10),
    "p": (0.5, 1, 2),
    "max_features": (0.5, 2),
    "gamma": (0.1,),
    "max_depth": (2,),
    "max_leaf_nodes": (4,),
    "n_iter_no_change": (5,),
    "n_neighbors": (3,),
    "max_iter": (50,),
}
N_ROWS = 60  # enough for every split and neighbourhood the sweep asks for
CASES = [
    (alg, task, n_classes)
    for alg in list_algorithms()
    for task in alg.tasks
    for n_classes in ((2, 3) if task == "classification" else (None,))
]


def _values(spec: ParamSpec) -> list[Any]:
    """The default, every option/boolean/None the spec allows, and its NUMBERS."""
    found: list[Any] = [spec.default]
    for constraint in spec.objects():
        if isinstance(constraint, Options):
            found += sorted(constraint.options)
        elif isinstance(constraint, _Booleans):
            found += [False, True]
        elif isinstance(constraint, _NoneConstraint):
            found.append(None)
    for number in NUMBERS.get(spec.name, ()):
        with contextlib.suppress(ValidationError):
            found.append(spec.check("sweep", number))
    return list({(type(v), v): v for v in found}.values())  # 1 and 1.0 stay distinct


def _sweep(estimator: type) -> Iterator[dict[str, Any]]:
    """Every pair of swept values, then the product of the parameters rules relate."""
    values = {n: v for n, s in hyperparameter_specs(estimator).items() if len(v := _values(s)) > 1}
    for a, b in itertools.combinations(sorted(values), 2):
        for va, vb in itertools.product(values[a], values[b]):
            yield {a: va, b: vb}
    related = sorted({n for rule in RULES.get(estimator, ()) for n in (rule.param, *rule.when)})
    if len(related) > 2:
        for combo in itertools.product(*(values[n] for n in related)):
            yield dict(zip(related, combo, strict=True))


def _data(task: str, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """N_ROWS x 4 normal features; balanced string classes or a positive target (poisson)."""
    X = np.random.RandomState(0).normal(size=(N_ROWS, 4))
    if task == "regression":
        return X, np.abs(X[:, 0]) + 1.0
    assert n_classes is not None
    return X, np.array(["a", "b", "c"][:n_classes] * (N_ROWS // n_classes))


def _fits(algorithm: Algorithm, task: str, params: dict[str, Any], X, y) -> bool:
    """Whether the estimator fits and predicts with ``params`` (costly values capped)."""
    capped = {k: min(v, CAPS[k]) if k in CAPS and type(v) is int else v for k, v in params.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_estimator(algorithm, task, capped, random_state=0).fit(X, y).predict(X[:5])
    except Exception:
        return False
    return True


def _accepted(algorithm: Algorithm, task: str, params: dict[str, Any], data: DataShape) -> bool:
    """Whether validate_hyperparameters accepts ``params`` for ``data``."""
    try:
        validate_hyperparameters(algorithm, task, params, data=data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("alg", "task", "n_classes"), CASES, ids=[f"{a.name}-{t}-{n}" for a, t, n in CASES]
)
def test_validation_rejects_exactly_the_combinations_that_cannot_fit(alg, task, n_classes):
    X, y = _data(task, n_classes)
    data = DataShape("sweep", N_ROWS, n_classes)
    defaults = validate_hyperparameters(alg, task, {})
    mismatches, seen = [], set()
    for params in _sweep(alg.estimators[task]):
        key = tuple(sorted((k, type(v).__name__, v) for k, v in params.items()))
        if key in seen:
            continue
        seen.add(key)
        fits = _fits(alg, task, {**defaults, **params}, X, y)
        if fits != _accepted(alg, task, params, data):
            mismatches.append(f"{params}: {'fits' if fits else 'fails'}")
    assert not mismatches, "\n".join(mismatches)


def test_n_neighbors_none_is_declared_by_sklearn_but_cannot_fit_so_is_not_offered():
    assert None in KNeighborsClassifier._parameter_constraints["n_neighbors"]
    X, y = _data("classification", 2)
    with pytest.raises(TypeError):  # fit stores it; kneighbors fails
        KNeighborsClassifier(n_neighbors=None).fit(X, y).predict(X)
    knn = get_algorithm("knn")
    with pytest.raises(ValidationError) as info:
        validate_hyperparameters(knn, "classification", {"n_neighbors": None})
    assert info.value.details["field"] == "hyperparameters.n_neighbors"


def test_rules_name_only_exposed_parameters():
    for estimator, rules in RULES.items():
        specs = hyperparameter_specs(estimator)
        for rule in rules:
            assert {rule.param, *rule.when} <= set(specs), (estimator.__name__, rule)
