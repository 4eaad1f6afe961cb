"""What a trained model shows in charts: binary ROC/PR curves and feature importances.

Both are computed once, at training time, from what training already has (the hold-out
test split's scores, the fitted Pipeline) and stored in the model document as plain
JSON-able values: Python floats, ints and strings, never numpy types or NaN.

- ``binary_curves``: the ROC and precision-recall curves of a binary classifier's test
  scores, each downsampled to at most ``MAX_POINTS`` points (largest-triangle-three-buckets:
  the endpoints and the corners that give the curve its shape are kept), coordinates
  rounded to ``DECIMALS``. ``auc`` and ``average_precision`` come from the full curves.
- ``feature_importances``: the estimator's ``feature_importances_`` (trees, forests,
  boosting) or mean absolute ``coef_`` (linear models), summed back from the preprocessing's
  output columns onto the original dataset columns (a categorical column's one-hot columns
  add up), normalised to sum to 1 over all features, the ``MAX_FEATURES`` largest kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import Pipeline

from app.ml.metrics import to_jsonable

MAX_POINTS = 101  # per curve
MAX_FEATURES = 30  # importances kept (the largest)
DECIMALS = 4  # of curve coordinates
FORESTS = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)


def binary_curves(y_true: Any, y_score: Any, labels: Sequence[Any]) -> dict[str, Any] | None:
    """ROC and precision-recall curves of a binary classifier on its test rows, or None.

    ``labels`` are the classifier's classes (``classes_`` order) and ``y_score`` its
    ``predict_proba`` (2 columns) or 1-D ``decision_function`` output; the positive label
    is ``labels[1]``, as for ``roc_auc`` in the metrics. None when the task is not binary,
    there are no scores, the scores are not finite, or the test rows lack either class.
    Returns ``{"roc": {"fpr", "tpr", "auc"}, "pr": {"recall", "precision",
    "average_precision"}, "positive_label"}``; PR points go by increasing recall.

    The curves are sklearn's (``roc_curve``, ``precision_recall_curve``,
    ``average_precision_score``), computed from one sort of the scores: a million test
    rows take about 0.2 s (mostly the sort).
    """
    if y_score is None or len(labels) != 2:
        return None
    score = np.asarray(y_score, dtype=float)
    if score.ndim == 2:
        if score.shape[1] != 2:
            return None
        score = score[:, 1]
    positive = np.asarray(y_true) == labels[1]
    if score.ndim != 1 or len(positive) != len(score) or positive.all() or not positive.any():
        return None
    if not np.isfinite(score).all():
        return None
    tps, fps = _counts(positive, score)
    fpr, tpr = _roc(tps, fps)
    recall = np.r_[0.0, tps / tps[-1]]
    precision = np.r_[1.0, tps / (tps + fps)]
    average_precision = float(np.sum(np.diff(recall) * precision[1:]))
    auc = float(np.trapezoid(tpr, fpr))
    fpr, tpr = downsample(fpr, tpr)
    recall, precision = downsample(recall, precision)
    return {
        "roc": {"fpr": _rounded(fpr), "tpr": _rounded(tpr), "auc": to_jsonable(auc)},
        "pr": {
            "recall": _rounded(recall),
            "precision": _rounded(precision),
            "average_precision": to_jsonable(average_precision),
        },
        "positive_label": to_jsonable(labels[1]),
    }


def _counts(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each distinct threshold, highest score first."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score, positive = score[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # each threshold's last row
    tps = np.cumsum(positive, dtype=float)[last]
    return tps, (last + 1) - tps


def _roc(tps: np.ndarray, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fpr, tpr`` from (0, 0), without the points inside straight segments (as
    ``roc_curve(drop_intermediate=True)``)."""
    if len(tps) > 2:
        corners = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
        keep = np.r_[True, corners, True]
        tps, fps = tps[keep], fps[keep]
    return np.r_[0.0, fps] / fps[-1], np.r_[0.0, tps] / tps[-1]


def downsample(x: np.ndarray, y: np.ndarray, n: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n`` (>= 3) points of the polyline ``x, y``, keeping its shape.

    The first and last points are kept; the points between are split into ``n - 2``
    buckets of consecutive points, and each bucket keeps the point forming the largest
    triangle with the means of the buckets on either side (largest-triangle-three-buckets,
    anchored on means so that it vectorises: a few numpy calls whatever the size). Kept
    points stay in order, so a monotone ``x`` stays monotone.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    size = len(x)
    if size <= n:
        return x, y
    starts = np.linspace(1, size - 1, n - 1).astype(int)[:-1]  # n - 2 non-empty buckets
    sizes = np.diff(np.r_[starts, size - 1])
    mean_x, mean_y = (np.add.reduceat(v[:-1], starts) / sizes for v in (x, y))
    bucket = np.repeat(np.arange(n - 2), sizes)  # of each point between the ends
    before_x, before_y = np.r_[x[0], mean_x[:-1]][bucket], np.r_[y[0], mean_y[:-1]][bucket]
    after_x, after_y = np.r_[mean_x[1:], x[-1]][bucket], np.r_[mean_y[1:], y[-1]][bucket]
    mid_x, mid_y = x[1:-1], y[1:-1]
    area = np.abs(
        (before_x - after_x) * (mid_y - before_y) - (before_x - mid_x) * (after_y - before_y)
    )
    largest = np.flatnonzero(area == np.maximum.reduceat(area, starts - 1)[bucket])
    _, first = np.unique(bucket[largest], return_index=True)  # one per bucket
    keep = np.r_[0, largest[first] + 1, size - 1]
    return x[keep], y[keep]


def feature_importances(pipeline: Pipeline, features: Sequence[str]) -> list[dict] | None:
    """``[{"feature", "importance"}, ...]`` of a fitted Pipeline, largest first, or None.

    ``features`` are the original columns the Pipeline's ColumnTransformer takes. The
    importances sum to 1 over all features (the list keeps the ``MAX_FEATURES`` largest,
    so it sums to less when there are more). None when the final estimator has neither
    ``feature_importances_`` nor ``coef_`` (e.g. knn, an rbf SVM), when its columns cannot
    be traced back to the original ones, or when every importance is zero.
    """
    raw = _raw_importances(pipeline[-1])
    owners = _column_owners(pipeline[0]) if len(pipeline) > 1 else None
    if raw is None or owners is None or len(owners) != len(raw):
        return None
    totals = dict.fromkeys(features, 0.0)
    for owner, value in zip(owners, raw.tolist(), strict=True):
        if owner not in totals:
            return None
        totals[owner] += value
    total = math.fsum(totals.values())
    if not math.isfinite(total) or total <= 0:
        return None
    ranked = sorted(totals.items(), key=lambda item: -item[1])  # stable: ties keep order
    return [
        {"feature": to_jsonable(name), "importance": value / total}
        for name, value in ranked[:MAX_FEATURES]
    ]


def _raw_importances(model: Any) -> np.ndarray | None:
    """Non-negative importance per input column of ``model``, or None if it has none."""
    if _is_forest(model):  # sklearn's ``feature_importances_``, without a joblib round
        trees = [t.tree_ for t in model.estimators_]
        grown = [t.compute_feature_importances() for t in trees if t.node_count > 1]
        values = np.mean(grown, axis=0) if grown else np.zeros(model.n_features_in_)
    elif hasattr(model, "feature_importances_"):
        values = np.asarray(model.feature_importances_, dtype=float)
    elif hasattr(model, "coef_"):  # SVC/SVR: only with a linear kernel
        coef = model.coef_
        coef = coef.toarray() if sparse.issparse(coef) else np.asarray(coef, dtype=float)
        values = np.abs(np.atleast_2d(coef)).mean(axis=0)  # mean over classes / targets
    else:
        return None
    if values.ndim != 1 or not np.isfinite(values).all() or (values < -1e-9).any():
        return None
    return np.clip(values, 0.0, None)  # boosting's sums can be -1e-18 where 0 is meant


def _is_forest(model: Any) -> bool:
    """Whether ``model`` is a fitted forest of sklearn trees (its ``feature_importances_``
    would average the trees' in a joblib ``Parallel``: ~0.05 ms per tree of overhead)."""
    trees = getattr(model, "estimators_", None)
    return (
        isinstance(model, FORESTS)
        and isinstance(trees, list)
        and all(hasattr(t, "tree_") for t in trees)
    )


def _column_owners(preprocess: Any) -> list[Any] | None:
    """The original column behind each output column of a fitted ColumnTransformer.

    A transformer whose last step has ``categories_`` (one-hot) outputs one column per
    category of each input column (minus a dropped one); any other outputs one column per
    input column. None if that does not add up to the transformer's output width.
    """
    if not isinstance(preprocess, ColumnTransformer):
        return None
    width = sum(s.stop - s.start for s in preprocess.output_indices_.values())
    owners: list[Any] = [None] * width
    for name, transformer, columns in preprocess.transformers_:
        part = preprocess.output_indices_.get(name, slice(0, 0))
        if part.stop == part.start:
            continue  # dropped (the remainder) or nothing output
        step = transformer[-1] if isinstance(transformer, Pipeline) else transformer
        counts = _widths(step, list(columns))
        if sum(counts) != part.stop - part.start:
            return None
        owners[part] = [c for c, count in zip(columns, counts, strict=True) for _ in range(count)]
    return None if any(o is None for o in owners) else owners


def _widths(step: Any, columns: list[Any]) -> list[int]:
    """Output columns per input column of one fitted transformer."""
    categories = getattr(step, "categories_", None)
    if categories is None or len(categories) != len(columns):
        return [1] * len(columns)
    dropped = getattr(step, "drop_idx_", None)
    return [
        len(c) - (dropped is not None and dropped[i] is not None) for i, c in enumerate(categories)
    ]


def _rounded(values: np.ndarray) -> list[float]:
    """Python floats rounded to ``DECIMALS`` (the inputs are finite)."""
    return [round(v, DECIMALS) for v in np.asarray(values, dtype=float).tolist()]
