"""The algorithm registry and its description, derived from scikit-learn."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest
from sklearn.ensemble import RandomForestClassifier

from app.errors import ValidationError
from app.ml.registry import TASKS, describe_algorithm, get_algorithm, list_algorithms

REQUIRED = {
    "random_forest": TASKS,
    "decision_tree": TASKS,
    "svm": TASKS,
    "gradient_boosting": TASKS,
    "knn": TASKS,
    "logistic_regression": ("classification",),
    "linear_regression": ("regression",),
    "ridge": ("regression",),
}
ALGORITHMS = list_algorithms()


def test_required_algorithms_and_tasks():
    assert {alg.name: alg.tasks for alg in ALGORITHMS if alg.name in REQUIRED} == REQUIRED


def test_unknown_algorithm():
    with pytest.raises(ValidationError) as info:
        get_algorithm("xgboost")
    assert info.value.message == "Unknown algorithm 'xgboost'."
    assert info.value.details == {
        "field": "algorithm",
        "allowed": sorted(a.name for a in ALGORITHMS),
    }


@pytest.mark.parametrize("alg", ALGORITHMS, ids=lambda a: a.name)
def test_description_is_strict_json_and_matches_sklearn(alg):
    described = describe_algorithm(alg)
    json.dumps(described, allow_nan=False)
    assert described["tasks"] == list(alg.tasks)
    for task, path in described["estimator"].items():
        module, name = path.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name) is alg.estimators[task]
    for name, entry in described["hyperparameters"].items():
        for task in entry["tasks"]:
            spec = entry["by_task"][task] if "by_task" in entry else entry
            estimator = alg.estimators[task]
            assert spec["default"] == inspect.signature(estimator).parameters[name].default
            assert spec["default"] == estimator().get_params()[name]
            assert name in estimator._parameter_constraints
            assert spec["constraints"] and "a callable" not in spec["constraints"]


def test_random_forest_n_estimators_comes_from_sklearn_with_fleet_bound():
    entry = describe_algorithm(get_algorithm("random_forest"))["hyperparameters"]["n_estimators"]
    assert entry["default"] == RandomForestClassifier().n_estimators
    assert entry["constraints"] == ["an int in the range [1, inf)"]
    assert entry["type"] == ["integer"]
    assert entry["max"] == 2000


@pytest.mark.parametrize(
    ("name", "param", "bound"),
    [
        ("knn", "n_neighbors", 1000),
        ("logistic_regression", "max_iter", 100_000),
        ("decision_tree", "max_depth", 1000),
        ("gradient_boosting", "n_estimators", 2000),
    ],
)
def test_fleet_bounds_are_visible(name, param, bound):
    assert describe_algorithm(get_algorithm(name))["hyperparameters"][param]["max"] == bound


@pytest.mark.parametrize(
    ("name", "param", "bounds"),
    [
        ("svm", "C", {"max": 1e6}),
        ("svm", "tol", {"min": 1e-10, "max": 1.0}),
        ("svm", "max_iter", {"min": 1, "max": 100_000}),
        ("logistic_regression", "C", {"max": 1e6}),
        ("logistic_regression", "intercept_scaling", {"max": 1e6}),
        ("ridge", "alpha", {"max": 1e10}),
        ("ridge", "max_iter", {"max": 100_000}),  # sklearn already says >= 1
        ("gradient_boosting", "alpha", {}),  # sklearn already says < 1
        ("random_forest", "max_samples", {"max": 10_000_000, "max_float": 10.0}),
    ],
)
def test_fleet_bounds_are_shown_only_where_they_narrow_sklearns_range(name, param, bounds):
    entry = describe_algorithm(get_algorithm(name))["hyperparameters"][param]
    assert {k: entry[k] for k in ("min", "max", "max_float") if k in entry} == bounds


def test_svm_max_iter_default_stays_sklearns():
    entry = describe_algorithm(get_algorithm("svm"))["hyperparameters"]["max_iter"]
    assert entry["default"] == -1 and entry["min"] == 1


def test_n_neighbors_none_is_not_offered():
    entry = describe_algorithm(get_algorithm("knn"))["hyperparameters"]["n_neighbors"]
    assert entry["type"] == ["integer"] and entry["constraints"] == ["an int in the range [1, inf)"]


def test_worker_owned_deprecated_and_object_params_are_not_exposed():
    excluded = {
        "random_forest": {"n_jobs", "verbose", "warm_start", "random_state", "monotonic_cst"},
        "knn": {"n_jobs", "metric_params"},
        "svm": {"probability", "verbose", "random_state"},  # probability: deprecated in 1.9
        "gradient_boosting": {"criterion", "verbose", "warm_start"},  # criterion: deprecated
        "logistic_regression": {"penalty", "n_jobs"},  # penalty: deprecated in 1.8
        "linear_regression": {"copy_X", "n_jobs"},
    }
    for name, params in excluded.items():
        described = describe_algorithm(get_algorithm(name))["hyperparameters"]
        assert not params & set(described), name


def test_only_json_alternatives_are_offered():
    knn = describe_algorithm(get_algorithm("knn"))["hyperparameters"]
    assert "precomputed" not in knn["metric"]["options"]
    assert "minkowski" in knn["metric"]["options"]
    assert knn["weights"]["type"] == ["string", "null"]
    rf = describe_algorithm(get_algorithm("random_forest"))["hyperparameters"]
    assert rf["class_weight"]["options"] == ["balanced", "balanced_subsample"]


def test_param_that_differs_by_task_is_described_per_task():
    criterion = describe_algorithm(get_algorithm("random_forest"))["hyperparameters"]["criterion"]
    assert criterion["tasks"] == ["classification", "regression"]
    assert criterion["by_task"]["classification"]["default"] == "gini"
    assert criterion["by_task"]["regression"]["default"] == "squared_error"
    class_weight = describe_algorithm(get_algorithm("svm"))["hyperparameters"]["class_weight"]
    assert class_weight["tasks"] == ["classification"]


def test_fixed_params_are_described():
    assert describe_algorithm(get_algorithm("random_forest"))["fixed"]["n_jobs"] == 1
    assert "n_jobs" not in describe_algorithm(get_algorithm("logistic_regression"))["fixed"]
