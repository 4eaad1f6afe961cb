"""validate_hyperparameters: sklearn's own constraints, fleet bounds, combinations, data."""

from __future__ import annotations

import inspect
import json

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils._param_validation import InvalidParameterError

from app.errors import ValidationError
from app.ml.hyperparameters import DataShape, validate_hyperparameters
from app.ml.registry import describe_algorithm, get_algorithm, list_algorithms

RF = get_algorithm("random_forest")
CASES = [(alg, task) for alg in list_algorithms() for task in alg.tasks]


def _error(algorithm, task, params) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_hyperparameters(algorithm, task, params)
    return info.value


@pytest.mark.parametrize(("alg", "task"), CASES, ids=[f"{a.name}-{t}" for a, t in CASES])
def test_defaults_are_sklearns_and_validate_as_is(alg, task):
    effective = validate_hyperparameters(alg, task, {})
    estimator = alg.estimators[task]()
    assert effective == {name: estimator.get_params()[name] for name in effective}
    assert validate_hyperparameters(alg, task, effective) == effective
    json.dumps(effective, allow_nan=False)
    assert not set(effective) & {"n_jobs", "verbose", "warm_start", "copy_X", "random_state"}


def test_user_values_are_merged_into_the_defaults():
    effective = validate_hyperparameters(RF, "classification", {"max_depth": 3})
    defaults = inspect.signature(RandomForestClassifier).parameters
    assert effective["max_depth"] == 3
    assert effective["n_estimators"] == defaults["n_estimators"].default
    assert effective["criterion"] == defaults["criterion"].default


def test_out_of_range_uses_sklearns_own_message():
    with pytest.raises(InvalidParameterError) as sklearn_error:
        RandomForestClassifier(n_estimators=-1).fit([[0], [1]], [0, 1])
    error = _error(RF, "classification", {"n_estimators": -1})
    assert error.message == str(sklearn_error.value)
    assert error.message == (
        "The 'n_estimators' parameter of RandomForestClassifier must be an int in the range"
        " [1, inf). Got -1 instead."
    )
    assert error.details == {
        "field": "hyperparameters.n_estimators",
        "constraints": ["an int in the range [1, inf)"],
    }


def test_wrong_type_is_rejected():
    error = _error(RF, "classification", {"n_estimators": "ten"})
    assert error.details["field"] == "hyperparameters.n_estimators"
    assert "Got 'ten' instead" in error.message


def test_unknown_hyperparameter_lists_the_valid_names():
    error = _error(RF, "classification", {"n_trees": 10})
    assert error.details["field"] == "hyperparameters.n_trees"
    assert error.details["allowed"] == sorted(describe_algorithm(RF)["hyperparameters"])


@pytest.mark.parametrize("name", ["n_jobs", "random_state", "verbose", "warm_start"])
def test_worker_owned_params_are_not_hyperparameters(name):
    error = _error(RF, "classification", {name: 1})
    assert error.details["field"] == f"hyperparameters.{name}"


def test_fleet_bound_is_enforced():
    error = _error(RF, "regression", {"n_estimators": 2001})
    assert "must be <= 2000 on this fleet" in error.message
    assert error.details == {"field": "hyperparameters.n_estimators", "max": 2000}
    assert (
        validate_hyperparameters(RF, "regression", {"n_estimators": 2000})["n_estimators"] == 2000
    )


def test_task_mismatch_names_the_algorithms_that_fit():
    error = _error(get_algorithm("linear_regression"), "classification", {})
    assert error.message == (
        "Algorithm 'linear_regression' does not support classification datasets;"
        " it supports: regression."
    )
    expected = sorted(a.name for a in list_algorithms() if "classification" in a.tasks)
    assert error.details == {"field": "algorithm", "allowed": expected}


def test_bool_is_not_an_int_but_is_a_bool():
    error = _error(RF, "classification", {"n_estimators": True})
    assert error.message.endswith("Got True instead.")
    assert _error(RF, "classification", {"bootstrap": 1}).details["field"].endswith("bootstrap")
    assert (
        validate_hyperparameters(RF, "classification", {"bootstrap": False})["bootstrap"] is False
    )


def test_integral_float_becomes_int_only_where_an_int_is_required():
    effective = validate_hyperparameters(
        RF, "classification", {"n_estimators": 10.0, "max_features": 1.0, "min_samples_split": 2.0}
    )
    assert effective["n_estimators"] == 10 and type(effective["n_estimators"]) is int
    assert type(effective["max_features"]) is float  # a fraction of the features
    assert type(effective["min_samples_split"]) is int
    assert (
        _error(RF, "classification", {"n_estimators": 10.5})
        .details["field"]
        .endswith("n_estimators")
    )


def test_non_finite_float_is_rejected():
    assert _error(get_algorithm("svm"), "classification", {"C": float("inf")})


@pytest.mark.parametrize(
    ("name", "task", "params", "field"),
    [
        ("random_forest", "classification", {"oob_score": True, "bootstrap": False}, "bootstrap"),
        ("ridge", "regression", {"positive": True, "solver": "svd"}, "solver"),
        ("knn", "regression", {"algorithm": "kd_tree", "metric": "cosine"}, "metric"),
        ("logistic_regression", "classification", {"dual": True}, "solver"),
    ],
)
def test_invalid_combinations_are_rejected_at_request_time(name, task, params, field):
    error = _error(get_algorithm(name), task, params)
    assert error.details["field"] == f"hyperparameters.{field}"
    effective = validate_hyperparameters(get_algorithm(name), task, {})
    for param in {field, *error.details["when"]}:  # both sides and their values are named
        assert f"{param}={params.get(param, effective[param])!r}" in error.message


def test_combination_message_says_what_is_allowed():
    error = _error(RF, "classification", {"oob_score": True, "bootstrap": False})
    assert error.message == (
        "The 'bootstrap' parameter of RandomForestClassifier must be True when 'oob_score'"
        " is True. Got bootstrap=False, oob_score=True instead."
    )
    assert error.details == {
        "field": "hyperparameters.bootstrap",
        "constraints": ["True"],
        "when": {"oob_score": True},
    }


def test_validation_never_fits(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("validate_hyperparameters must not fit")

    for alg, task in CASES:
        monkeypatch.setattr(alg.estimators[task], "fit", no_fit)
    for alg, task in CASES:  # every parameter given, so every check runs
        validate_hyperparameters(alg, task, validate_hyperparameters(alg, task, {}))
    assert _error(RF, "classification", {"oob_score": True, "bootstrap": False})


def test_the_reported_svm_payload_is_rejected_by_the_fleet_bounds():
    svm = get_algorithm("svm")
    error = _error(svm, "classification", {"C": 1e308, "tol": 1e-300, "max_iter": -1})
    assert error.details == {"field": "hyperparameters.C", "max": 1e6}
    assert _error(svm, "classification", {"tol": 1e-300}).details["min"] == 1e-10
    assert _error(svm, "regression", {"tol": 2.0}).details["max"] == 1.0
    assert _error(svm, "classification", {"max_iter": 0}).details["min"] == 1


def test_sklearn_default_is_accepted_even_outside_the_bounds():
    svm = get_algorithm("svm")  # max_iter=-1 means "no limit" to libsvm
    assert validate_hyperparameters(svm, "classification", {"max_iter": -1})["max_iter"] == -1
    assert validate_hyperparameters(svm, "classification", {"max_iter": 1})["max_iter"] == 1


def test_bounds_compare_ints_with_float_bounds():
    svm = get_algorithm("svm")
    assert validate_hyperparameters(svm, "classification", {"C": 1_000_000})["C"] == 1_000_000
    assert _error(svm, "classification", {"C": 1_000_001}).details["field"] == "hyperparameters.C"


def test_float_only_bound_leaves_ints_alone():
    error = _error(RF, "classification", {"max_samples": 10.5})
    assert error.details == {"field": "hyperparameters.max_samples", "max_float": 10.0}
    assert validate_hyperparameters(RF, "classification", {"max_samples": 11})["max_samples"] == 11
    assert _error(RF, "classification", {"max_samples": 10_000_001}).details["max"] == 10_000_000


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_features", 1e308), ("max_features", 2.0**63), ("min_samples_split", 2**63)],
)
def test_numbers_that_cannot_be_stored_are_rejected(name, value):
    error = _error(RF, "classification", {name: value})
    assert error.details["field"] == f"hyperparameters.{name}"
    assert "signed 64-bit range" in error.message


def test_huge_int_message_does_not_print_the_int():
    error = _error(RF, "classification", {"min_samples_split": 10**5000})
    assert error.message.endswith("Got an int of 16610 bits instead.")


def test_largest_int64_is_stored_as_an_int():
    params = {"min_samples_split": float(2**62)}
    effective = validate_hyperparameters(RF, "classification", params)
    assert effective["min_samples_split"] == 2**62 and type(effective["min_samples_split"]) is int
    assert validate_hyperparameters(RF, "classification", {"min_samples_split": 2**63 - 1})


def test_dataset_rules_run_after_the_combinations():
    logistic = get_algorithm("logistic_regression")
    data = DataShape("iris", n_train=120, n_classes=3)
    error = _error_with(logistic, {"solver": "liblinear"}, data)
    assert error.message == "solver='liblinear' needs two classes; dataset 'iris' has 3."
    assert error.details == {"field": "hyperparameters.solver"}
    assert validate_hyperparameters(
        logistic, "classification", {"solver": "liblinear"}, data=DataShape("b", 120, 2)
    )
    error = _error_with(logistic, {"solver": "liblinear", "l1_ratio": 0.5}, data)
    assert error.details["field"] == "hyperparameters.solver" and "saga" in error.message


def _error_with(algorithm, params, data) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_hyperparameters(algorithm, "classification", params, data=data)
    return info.value


def test_objects_and_callables_are_not_accepted():
    knn = get_algorithm("knn")
    assert _error(knn, "classification", {"metric": "precomputed"})
    assert _error(knn, "classification", {"weights": "print"})
    assert _error(RF, "classification", {"class_weight": {"a": 1.0}})


def test_hyperparameters_must_be_an_object():
    assert _error(RF, "classification", ["n_estimators"]).details == {"field": "hyperparameters"}
