"""Classification and regression metrics: keys, label order, JSON-able values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from app.ml.metrics import classification_metrics, regression_metrics


def test_binary_metrics_with_probabilities():
    y_true = ["no", "yes", "yes", "no", "yes"]
    y_pred = ["no", "yes", "no", "no", "yes"]
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])
    metrics = classification_metrics(y_true, y_pred, proba, labels=["no", "yes"], train_accuracy=1)
    assert metrics["labels"] == ["no", "yes"]
    assert metrics["confusion_matrix"] == [[2, 0], [1, 2]]  # rows: true, columns: predicted
    assert metrics["test_accuracy"] == 0.8
    assert metrics["train_accuracy"] == 1.0
    assert metrics["roc_auc"] == roc_auc_score([0, 1, 1, 0, 1], proba[:, 1])
    assert {"precision_macro", "recall_weighted", "f1_macro", "f1_weighted"} <= set(metrics)
    json.dumps(metrics, allow_nan=False)


def test_binary_roc_auc_from_decision_function():
    metrics = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], np.array([-2.0, 1.5, -0.1, -1.0]))
    assert metrics["roc_auc"] == 1.0
    assert metrics["labels"] == [0, 1] and all(type(v) is int for v in metrics["labels"])


def test_multiclass_roc_auc_needs_probabilities():
    y = ["a", "b", "c", "a", "b", "c"]
    proba = np.eye(3)[[0, 1, 2, 0, 1, 1]] * 0.8 + 0.2 / 3
    metrics = classification_metrics(y, y, proba, labels=["a", "b", "c"])
    assert metrics["roc_auc"] is not None and 0 < metrics["roc_auc"] <= 1
    decision = np.array([[3.0, -1, 0], [0, 2, 1], [1, 0, 4], [2, 0, 0], [0, 5, 0], [0, 1, 2]])
    assert classification_metrics(y, y, decision, labels=["a", "b", "c"])["roc_auc"] is None
    assert classification_metrics(y, y)["roc_auc"] is None


def test_undefined_values_are_none_not_nan():
    metrics = classification_metrics(["a", "a"], ["a", "b"], np.array([0.2, 0.7]))
    assert metrics["roc_auc"] is None  # one class in y_true
    assert metrics["train_accuracy"] is None
    json.dumps(metrics, allow_nan=False)
    single = regression_metrics([3.0], [2.5])
    assert single == {"r2": None, "rmse": 0.5, "mae": 0.5}


def test_regression_metrics():
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert metrics == {"r2": pytest.approx(0.2), "rmse": 1.0, "mae": 0.5}
    assert all(type(v) is float for v in metrics.values())


@pytest.mark.parametrize("seed", range(20))
def test_averaged_scores_match_sklearn_exactly(seed):
    from sklearn import metrics as skm

    rng = np.random.RandomState(seed)
    labels = ["a", "b", "c", "d"]
    y_true = rng.choice(labels, size=int(rng.randint(5, 60)))
    y_pred = rng.choice(labels[:3], size=len(y_true))  # "d" is never predicted
    if seed % 4 == 0:
        y_true[y_true == "c"] = "a"  # and here "c" is never true
    metrics = classification_metrics(y_true, y_pred, labels=labels)
    for average in ("macro", "weighted"):
        kwargs = {"labels": labels, "average": average, "zero_division": 0}
        assert metrics[f"precision_{average}"] == skm.precision_score(y_true, y_pred, **kwargs)
        assert metrics[f"recall_{average}"] == skm.recall_score(y_true, y_pred, **kwargs)
        assert metrics[f"f1_{average}"] == skm.f1_score(y_true, y_pred, **kwargs)
    assert metrics["test_accuracy"] == skm.accuracy_score(y_true, y_pred)
    assert (
        metrics["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    )


def test_accuracy_counts_rows_outside_labels():
    from sklearn.metrics import accuracy_score

    y_true, y_pred = ["a", "b", "z", "a"], ["a", "a", "z", "a"]
    metrics = classification_metrics(y_true, y_pred, labels=["a", "b"])
    assert metrics["test_accuracy"] == accuracy_score(y_true, y_pred) == 0.75
