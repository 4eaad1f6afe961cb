"""Evaluation metrics as plain JSON-able values (floats, ints, lists; None, never NaN)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm

# The one number that ranks models of a task (``score`` of a model, its Grafana gauge).
HEADLINE_METRIC = {"classification": "test_accuracy", "regression": "r2"}


def headline_score(task: str, metrics: dict[str, Any]) -> float | None:
    """The headline metric of ``task`` in ``metrics`` (None if undefined)."""
    return metrics.get(HEADLINE_METRIC[task])


def to_jsonable(value: Any) -> Any:
    """A numpy scalar as the Python scalar; NaN/inf floats as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _float(value: Any) -> float | None:
    """A metric as a finite Python float, or None."""
    return None if value is None else to_jsonable(float(value))


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    labels: Any = None,
    train_accuracy: float | None = None,
) -> dict[str, Any]:
    """Accuracy, macro/weighted precision-recall-F1, confusion matrix, ROC AUC.

    ``labels`` (default: sorted labels of ``y_true`` and ``y_pred``) is the order of the
    confusion matrix, returned under ``"labels"``: ``confusion_matrix[i][j]`` counts rows
    of true label ``labels[i]`` predicted as ``labels[j]``. ``y_score`` is
    ``predict_proba`` output (columns in ``labels`` order) or, for binary tasks, a 1-D
    ``decision_function``; ``roc_auc`` is None when it is absent or undefined.
    """
    labels = list(
        np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
        if labels is None
        else labels
    )
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    out: dict[str, Any] = {
        "test_accuracy": _float(_accuracy(matrix, y_true, y_pred)),
        "train_accuracy": _float(train_accuracy),
    }
    p, r, f, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    for average, weights in (("macro", None), ("weighted", support)):
        out.update(
            {
                f"precision_{average}": _float(_average(p, weights)),
                f"recall_{average}": _float(_average(r, weights)),
                f"f1_{average}": _float(_average(f, weights)),
            }
        )
    out["confusion_matrix"] = matrix.tolist()
    out["labels"] = [to_jsonable(label) for label in labels]
    out["roc_auc"] = _roc_auc(y_true, y_score, labels)
    return out


def _accuracy(matrix: np.ndarray, y_true: Any, y_pred: Any) -> float:
    """Accuracy from the confusion matrix (sklearn's value when every row is in it)."""
    n = len(y_true)
    if n and int(matrix.sum()) == n:
        return float(np.trace(matrix) / n)
    return float(skm.accuracy_score(y_true, y_pred))  # rows outside ``labels``


def _average(values: np.ndarray, weights: np.ndarray | None) -> float:
    """sklearn's average of per-class scores: plain mean, or weighted by support.

    As ``precision_recall_fscore_support(average=...)``: NaNs ignored (none with
    ``zero_division=0``), NaN if empty, plain mean when all weights are zero.
    """
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    if not keep.any():
        return math.nan
    if weights is None:
        return float(np.nanmean(values))
    weights = np.asarray(weights)[keep]
    if weights.sum() == 0:
        return float(np.mean(values[keep]))
    return float(np.average(values[keep], weights=weights))


def _roc_auc(y_true: Any, y_score: Any, labels: list) -> float | None:
    """Binary ROC AUC (score of ``labels[1]``) or one-vs-rest macro AUC; None if undefined."""
    if y_score is None or len(labels) < 2:
        return None
    score = np.asarray(y_score, dtype=float)
    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if len(labels) == 2:
                positive = score[:, 1] if score.ndim == 2 else score
                return _float(skm.roc_auc_score(y_true == labels[1], positive))
            if score.ndim != 2 or not np.allclose(score.sum(axis=1), 1.0):
                return None  # ovr AUC needs probabilities
            return _float(
                skm.roc_auc_score(y_true, score, multi_class="ovr", average="macro", labels=labels)
            )
    except ValueError:
        return None


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """R², RMSE and MAE (R² None when undefined, e.g. fewer than two test rows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning for R² on < 2 rows
        r2 = skm.r2_score(y_true, y_pred) if len(y_true) >= 2 else None
    return {
        "r2": _float(r2),
        "rmse": _float(skm.root_mean_squared_error(y_true, y_pred)),
        "mae": _float(skm.mean_absolute_error(y_true, y_pred)),
    }
