"""Drift statistics (app.ml.drift): shifted samples drift, samples of the same distribution
do not, the test or distance is chosen by the reference's size, answers are JSON-able."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from app.ml.drift import (
    categorical_drift,
    dataset_drift,
    numeric_drift,
    population_stability_index,
)


def _normal(seed: int, n: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc=10.0 + shift, scale=2.0, size=n)


def _counts(seed: int, n: int, shares: list[float]) -> dict[str, int]:
    drawn = np.random.default_rng(seed).choice(["red", "green", "blue"], size=n, p=shares)
    return dict(Counter(str(v) for v in drawn))


@pytest.mark.parametrize(
    ("reference_rows", "test", "score"),
    [(500, "ks", "p_value"), (5000, "wasserstein", "distance")],
)
def test_a_shifted_numeric_column_drifts_and_the_same_distribution_does_not(
    reference_rows: int, test: str, score: str
) -> None:
    reference = _normal(0, reference_rows)
    same = numeric_drift(reference, _normal(1, 2000))
    shifted = numeric_drift(reference, _normal(2, 2000, shift=1.0))  # half a std
    assert same["test"] == shifted["test"] == test and score in same and score in shifted
    assert same["drift"] is False and shifted["drift"] is True
    assert same["psi"] < 0.05 < 0.1 < shifted["psi"]
    assert (same["reference_rows"], same["window_rows"]) == (reference_rows, 2000)
    json.dumps([same, shifted], allow_nan=False)


def test_the_numeric_answer_is_deterministic_and_ignores_missing_values() -> None:
    reference, current = _normal(3, 300), _normal(4, 300)
    holed = np.concatenate([current, [np.nan, np.inf, -np.inf]])
    assert numeric_drift(reference, holed) == numeric_drift(reference, current)
    assert numeric_drift(reference, current)["window_rows"] == 300


def test_wasserstein_is_scaled_by_the_reference_spread() -> None:
    reference = _normal(5, 4000)
    result = numeric_drift(reference, reference + 0.4, small=False)  # 0.2 std
    assert result["distance"] == pytest.approx(0.2, rel=0.02)
    assert result["statistic"] == pytest.approx(0.4, rel=0.01) and result["drift"] is True


def test_a_numeric_column_with_few_values_is_compared_as_categories() -> None:
    rng = np.random.default_rng(6)
    reference = rng.choice([1.0, 2.0, 3.0], size=400).astype(float)
    assert numeric_drift(reference, rng.choice([1.0, 2.0, 3.0], size=400))["drift"] is False
    moved = numeric_drift(reference, rng.choice([1.0, 3.0], size=400, p=[0.9, 0.1]))
    assert moved["test"] == "chisquare" and moved["drift"] is True and moved["type"] == "numeric"
    assert "psi" in moved


@pytest.mark.parametrize(
    ("reference_rows", "test", "score"),
    [(600, "chisquare", "p_value"), (6000, "jensenshannon", "distance")],
)
def test_a_shifted_categorical_column_drifts_and_the_same_one_does_not(
    reference_rows: int, test: str, score: str
) -> None:
    reference = _counts(0, reference_rows, [0.5, 0.3, 0.2])
    same = categorical_drift(reference, _counts(1, 3000, [0.5, 0.3, 0.2]))
    shifted = categorical_drift(reference, _counts(2, 3000, [0.2, 0.3, 0.5]))
    assert same["test"] == shifted["test"] == test and score in same
    assert same["drift"] is False and shifted["drift"] is True
    assert same["type"] == "categorical" and same["reference_rows"] == reference_rows


def test_two_values_use_a_z_test_and_a_new_value_stays_finite() -> None:
    reference = {"yes": 300, "no": 300}
    assert categorical_drift(reference, {"yes": 52, "no": 48})["test"] == "z"
    assert categorical_drift(reference, {"yes": 52, "no": 48})["drift"] is False
    assert categorical_drift(reference, {"yes": 90, "no": 10})["drift"] is True
    unseen = categorical_drift(reference, {"yes": 50, "no": 40, "maybe": 10})
    assert unseen["test"] == "chisquare" and unseen["drift"] is True
    json.dumps(unseen, allow_nan=False)
    assert categorical_drift({"a": 10}, {"a": 50})["drift"] is False  # one value, unchanged


def test_a_column_without_values_is_not_checked() -> None:
    empty = numeric_drift(_normal(0, 100), np.array([np.nan, np.nan]))
    assert empty["drift"] is None and empty["test"] is None and "window" in empty["reason"]
    assert categorical_drift({}, {"a": 3})["drift"] is None


def test_psi_of_identical_samples_is_zero() -> None:
    sample = _normal(7, 1000)
    assert population_stability_index(sample, sample) == pytest.approx(0.0, abs=1e-12)


def test_the_dataset_drifts_when_at_least_half_its_checked_features_do() -> None:
    verdict = dataset_drift({"a": {"drift": True}, "b": {"drift": False}, "c": {"drift": None}})
    assert verdict == {
        "drift": True,
        "drifted_features": 1,
        "checked_features": 2,
        "share": 0.5,
        "drift_share": 0.5,
    }
    three = {"a": {"drift": True}, "b": {"drift": False}, "c": {"drift": False}}
    assert dataset_drift(three)["drift"] is False
    assert dataset_drift({"a": {"drift": None}})["drift"] is None
