"""Halving rung plans (against scikit-learn's own halving search) and Bayesian asks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingRandomSearchCV
from sklearn.tree import DecisionTreeClassifier

from app.errors import ValidationError
from app.ml import bayesian
from app.ml.halving import Rung, plan_rungs, smallest_resources
from app.ml.search_space import Range


@pytest.mark.parametrize(
    ("n_candidates", "n_train", "factor"),
    [(24, 1000, 3), (27, 2000, 3), (40, 6000, 2), (9, 120, 3), (100, 500, 4)],
)
def test_rung_sizes_are_scikit_learn_s_and_the_last_rung_sees_every_row(
    n_candidates: int, n_train: int, factor: int
) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n_train, 3)), np.tile([0, 1], n_train // 2)
    sk = HalvingRandomSearchCV(
        DecisionTreeClassifier(), {"max_depth": list(range(1, n_candidates + 1))},
        n_candidates=n_candidates, factor=factor, min_resources="exhaust", cv=2, random_state=0,
    ).fit(X, y)  # fmt: skip
    floor = smallest_resources(2, 2)
    rungs = plan_rungs(n_candidates, n_train, factor, "exhaust", floor)
    assert [r.size for r in rungs] == sk.n_candidates_
    assert rungs[-1].resources == n_train  # exhaust: all the training rows at the end
    assert all(b.resources >= a.resources * factor - factor for a, b in itertools.pairwise(rungs))
    assert all(r.resources >= floor for r in rungs)


def test_min_resources_as_a_number_grows_by_the_factor_up_to_every_row() -> None:
    assert plan_rungs(9, 1000, 3, 100, 12) == [Rung(9, 100), Rung(3, 300), Rung(1, 900)]
    assert plan_rungs(27, 1000, 3, 400, 12) == [Rung(27, 400)]  # no room to grow


@pytest.mark.parametrize("rows", [5, 2000])
def test_min_resources_outside_the_data_is_refused_naming_the_field(rows: int) -> None:
    with pytest.raises(ValidationError) as raised:
        plan_rungs(9, 1000, 3, rows, 12)
    assert raised.value.details["field"] == "halving.min_resources"


def test_too_few_rows_for_any_rung_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        plan_rungs(9, 20, 3, "exhaust", 30)
    assert raised.value.details["field"] == "strategy"


SPACE = {
    "n_estimators": Range(10, 500, log=True, integer=True),
    "learning_rate": Range(0.001, 1.0, log=True),
    "criterion": ["gini", "entropy", None],
    "layers": [[10], [20, 10]],  # any JSON value, by its position
}


def test_a_bayesian_ask_is_in_the_space_and_reproducible() -> None:
    history = [bayesian.Told({"n_estimators": 10 + i, "learning_rate": 0.01 * (i + 1),
                              "criterion": "gini", "layers": [10]}, score=i / 10)
               for i in range(10)]  # fmt: skip
    first = bayesian.ask(SPACE, history, True, 7)
    assert first == bayesian.ask(SPACE, history, True, 7)
    assert 10 <= first["n_estimators"] <= 500 and isinstance(first["n_estimators"], int)
    assert 0.001 <= first["learning_rate"] <= 1.0
    assert first["criterion"] in SPACE["criterion"] and first["layers"] in SPACE["layers"]


def test_tpe_follows_the_scores_once_it_has_enough_of_them() -> None:
    # a one-dimensional space where the score peaks at x = 80: after 20 told trials, TPE's
    # next asks land near the peak far more often than uniform draws would
    space = {"x": Range(0, 100)}
    history = [bayesian.Told({"x": x}, score=-abs(x - 80)) for x in np.linspace(0, 100, 20)]
    asks = [bayesian.ask(space, history, True, seed)["x"] for seed in range(20)]
    near = sum(abs(x - 80) < 15 for x in asks)
    assert near >= 12, asks  # uniform draws: 30 % of them, about 6 of 20


def test_running_and_failed_trials_are_told_as_such() -> None:
    space = {"x": Range(0, 1)}
    history = [bayesian.Told({"x": 0.5}), bayesian.Told({"x": 0.2}, failed=True)]
    assert 0 <= bayesian.ask(space, history, False, None)["x"] <= 1
