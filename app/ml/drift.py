"""Data drift between a model's training rows (the reference) and the rows it served (the
window), per feature and for the whole dataset, with Evidently's default choices.

Per column, by the size of the reference (at most ``SMALL_REFERENCE_ROWS`` rows: a
statistical test, drift when its p-value is below ``P_VALUE_THRESHOLD``; more rows: a
distance, drift when it reaches ``DISTANCE_THRESHOLD``):

- numeric columns with more than ``FEW_VALUES`` distinct reference values: the two-sample
  Kolmogorov-Smirnov test (``ks``), or the Wasserstein distance divided by the reference's
  standard deviation (``wasserstein``); always also a population stability index
  (``psi``) over the reference's deciles;
- categorical columns (and numeric ones with few distinct values, compared as categories):
  a Z-test of the difference of proportions when there are only two values (``z``), else
  Pearson's chi-squared test of homogeneity of the two samples' counts (``chisquare``); on
  a large reference the Jensen-Shannon distance (``jensenshannon``).

The dataset drifts when at least ``DRIFT_SHARE`` of the checked features drift. Missing
and non-finite values are left out of every statistic. scipy does the statistics; numpy
vectorises the rest (100,000 window rows of a column take milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

SMALL_REFERENCE_ROWS = 1000  # up to this many reference rows: statistical tests
P_VALUE_THRESHOLD = 0.05  # a test's drift: p-value below this
DISTANCE_THRESHOLD = 0.1  # a distance's drift: at least this
DRIFT_SHARE = 0.5  # the dataset drifts when at least this share of its features drift
FEW_VALUES = 5  # a numeric column with at most this many distinct values is categorical
PSI_BINS = 10  # the population stability index's bins: the reference's quantiles
EPSILON = 1e-4  # the share given to an empty bin of the population stability index
MIN_STD = 1e-3  # the Wasserstein distance is divided by at least this


def numeric_drift(
    reference: np.ndarray, current: np.ndarray, small: bool | None = None
) -> dict[str, Any]:
    """Drift of one numeric column: ``{"type", "test", "statistic", "p_value" | "distance",
    "threshold", "drift", "psi", "reference_rows", "window_rows"}``.

    ``small`` (default: ``reference`` has at most ``SMALL_REFERENCE_ROWS`` rows, missing
    ones included) chooses a test over a distance.
    """
    small = len(reference) <= SMALL_REFERENCE_ROWS if small is None else small
    ref, cur = _finite(reference), _finite(current)
    counted = {"type": "numeric", "reference_rows": len(ref), "window_rows": len(cur)}
    if not len(ref) or not len(cur):
        return {**counted, **_unchecked(ref, cur)}
    values = np.unique(ref)
    if len(values) <= FEW_VALUES:  # compared as categories, as Evidently does
        ref_counts, cur_counts = _value_counts(ref), _value_counts(cur)
        result = _categories(ref_counts, cur_counts, small)
    elif small:
        ks = stats.ks_2samp(ref, cur)
        result = _tested("ks", float(ks.statistic), float(ks.pvalue))
    else:
        distance = float(stats.wasserstein_distance(ref, cur))
        result = _distanced("wasserstein", distance, distance / max(float(np.std(ref)), MIN_STD))
    return {**counted, **result, "psi": _number(population_stability_index(ref, cur))}


def categorical_drift(
    reference: Mapping[str, int], current: Mapping[str, int], small: bool | None = None
) -> dict[str, Any]:
    """Drift of one categorical column from its value counts (missing values not counted):
    ``{"type", "test", "statistic", "p_value" | "distance", "threshold", "drift",
    "reference_rows", "window_rows"}``. ``small`` as for :func:`numeric_drift` (default:
    at most ``SMALL_REFERENCE_ROWS`` counted reference values)."""
    ref_total, cur_total = sum(reference.values()), sum(current.values())
    small = ref_total <= SMALL_REFERENCE_ROWS if small is None else small
    counted = {"type": "categorical", "reference_rows": ref_total, "window_rows": cur_total}
    if not ref_total or not cur_total:
        return {**counted, **_unchecked(reference, current)}
    return {**counted, **_categories(reference, current, small)}


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS
) -> float:
    """PSI of ``current`` against ``reference`` (finite values only) over the reference's
    quantile bins: ``sum((c - r) * ln(c / r))`` of the bins' shares, ``EPSILON`` for an
    empty bin. Below 0.1 is usually read as no shift, above 0.25 as a large one."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = _shares(np.searchsorted(edges, reference, side="right"), len(edges) + 1)
    cur_share = _shares(np.searchsorted(edges, current, side="right"), len(edges) + 1)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def dataset_drift(features: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The dataset's verdict from its features' (those whose ``drift`` is not None):
    ``{"drift", "drifted_features", "checked_features", "share", "drift_share"}``;
    ``drift`` is None when no feature could be checked."""
    verdicts = [f["drift"] for f in features.values() if f.get("drift") is not None]
    drifted = sum(1 for verdict in verdicts if verdict)
    share = drifted / len(verdicts) if verdicts else None
    return {
        "drift": None if share is None else share >= DRIFT_SHARE,
        "drifted_features": drifted,
        "checked_features": len(verdicts),
        "share": None if share is None else round(share, 4),
        "drift_share": DRIFT_SHARE,
    }


def _categories(
    reference: Mapping[Any, int], current: Mapping[Any, int], small: bool
) -> dict[str, Any]:
    keys = sorted(set(reference) | set(current), key=str)
    ref = np.array([reference.get(k, 0) for k in keys], dtype=float)
    cur = np.array([current.get(k, 0) for k in keys], dtype=float)
    if not small:
        distance = float(jensenshannon(ref / ref.sum(), cur / cur.sum()))
        return _distanced("jensenshannon", distance, distance)
    if len(keys) < 2:  # one value on both sides: nothing moved
        return _tested("chisquare", 0.0, 1.0)
    if len(keys) == 2:
        return _z_test(ref, cur)
    # Two samples, one table: Evidently's goodness-of-fit test (scipy.stats.chisquare with
    # the reference's shares as exact) sees the reference's own sampling noise as drift
    # once the window is much bigger than a small reference; the test of homogeneity
    # does not, and a value the reference never had needs no made-up expected count.
    chi = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    return _tested("chisquare", float(chi.statistic), float(chi.pvalue))


def _z_test(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    """Two-sided Z-test of the difference between the first value's shares."""
    n_ref, n_cur = ref.sum(), cur.sum()
    pooled = (ref[0] + cur[0]) / (n_ref + n_cur)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    z = 0.0 if spread == 0 else float((ref[0] / n_ref - cur[0] / n_cur) / spread)
    return _tested("z", z, float(2 * stats.norm.sf(abs(z))))


def _tested(test: str, statistic: float, p_value: float) -> dict[str, Any]:
    p_value = 1.0 if math.isnan(p_value) else p_value
    return {
        "test": test,
        "statistic": _number(statistic),
        "p_value": _number(p_value),
        "threshold": P_VALUE_THRESHOLD,
        "drift": bool(p_value < P_VALUE_THRESHOLD),
    }


def _distanced(test: str, statistic: float, distance: float) -> dict[str, Any]:
    return {
        "test": test,
        "statistic": _number(statistic),
        "distance": _number(distance),
        "threshold": DISTANCE_THRESHOLD,
        "drift": bool(distance >= DISTANCE_THRESHOLD),
    }


def _unchecked(reference: Any, current: Any) -> dict[str, Any]:
    side = "reference" if not len(reference) else "window"
    return {"test": None, "drift": None, "reason": f"no values in the {side}"}


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _value_counts(values: np.ndarray) -> dict[float, int]:
    keys, counts = np.unique(values, return_counts=True)
    return {float(k): int(c) for k, c in zip(keys, counts, strict=True)}


def _shares(bins: np.ndarray, count: int) -> np.ndarray:
    shares = np.bincount(bins, minlength=count) / max(len(bins), 1)
    return np.maximum(shares, EPSILON)


def _number(value: float) -> float:
    """``value`` rounded for JSON: 6 significant digits, never NaN or infinite."""
    if not math.isfinite(value):
        return 0.0 if math.isnan(value) else math.copysign(1e308, value)
    return float(f"{value:.6g}")
