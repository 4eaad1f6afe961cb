"""app.ml.explain: binary ROC/PR curves and feature importances, as training stores them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from app.ml.explain import MAX_FEATURES, MAX_POINTS, binary_curves, downsample, feature_importances
from app.ml.registry import get_algorithm, list_algorithms
from app.ml.training import prepare_and_split, train_pipeline

DATASETS = Path(__file__).resolve().parents[3] / "datasets"


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    """The bundled breast_cancer dataset (569 rows, 30 numeric features, 2 classes)."""
    return pd.read_csv(DATASETS / "breast_cancer.csv")


def _train(frame: pd.DataFrame, target: str, name: str, task: str = "classification", **params):
    return train_pipeline(
        frame, target=target, task=task, algorithm=get_algorithm(name), hyperparameters=params
    )


def _test_split(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """The hold-out split train_pipeline used (same defaults: test_size 0.2, seed 42)."""
    _, X_test, _, y_test, _ = prepare_and_split(frame, target, "classification", 0.2, 42)
    return X_test, y_test


def _floats_only(value: Any) -> None:
    """Every number in ``value`` is a plain, finite Python int/float (no numpy, no NaN)."""
    if isinstance(value, dict):
        for item in value.values():
            _floats_only(item)
    elif isinstance(value, list):
        for item in value:
            _floats_only(item)
    elif value is not None and not isinstance(value, str):
        assert type(value) in (int, float, bool), type(value)
        assert math.isfinite(value)


# -- curves --------------------------------------------------------------------------------
def test_binary_forest_roc_and_pr_match_sklearn_on_the_same_split(cancer) -> None:
    result = _train(cancer, "diagnosis", "random_forest")
    curves = result.curves
    assert curves is not None and curves["positive_label"] == result.classes[1] == "malignant"
    X_test, y_test = _test_split(cancer, "diagnosis")
    score = result.pipeline.predict_proba(X_test)[:, 1]
    positive = y_test == "malignant"

    roc, pr = curves["roc"], curves["pr"]
    assert roc["auc"] == pytest.approx(roc_auc_score(positive, score), abs=1e-12)
    assert roc["auc"] == pytest.approx(result.metrics["roc_auc"], abs=1e-12)
    assert pr["average_precision"] == pytest.approx(
        average_precision_score(positive, score), abs=1e-12
    )
    fpr, tpr, _ = roc_curve(positive, score)  # few enough points: not downsampled
    assert roc["fpr"] == [round(v, 4) for v in fpr] and roc["tpr"] == [round(v, 4) for v in tpr]
    precision, recall, _ = precision_recall_curve(positive, score)
    assert pr["recall"] == [round(v, 4) for v in recall[::-1]]
    assert pr["precision"] == [round(v, 4) for v in precision[::-1]]
    for xs, ys in ((roc["fpr"], roc["tpr"]), (pr["recall"], pr["precision"])):
        assert 2 <= len(xs) == len(ys) <= MAX_POINTS
        assert xs == sorted(xs) and xs[0] == 0 and xs[-1] == 1
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    _floats_only(curves)


def test_large_test_splits_are_downsampled_keeping_ends_order_and_area() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20_000)
    score = y * 0.6 + rng.normal(size=len(y))  # overlapping classes: thousands of corners
    curves = binary_curves(y, score, [0, 1])
    assert curves is not None
    roc, pr = curves["roc"], curves["pr"]
    assert len(roc_curve(y, score)[0]) > 1000
    assert len(roc["fpr"]) == len(roc["tpr"]) == MAX_POINTS == len(pr["recall"])
    assert roc["fpr"] == sorted(roc["fpr"]) and roc["tpr"] == sorted(roc["tpr"])
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert pr["recall"] == sorted(pr["recall"]) and pr["recall"][-1] == 1
    assert roc["auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    # the shape survives: the downsampled polyline encloses almost the same area
    assert float(np.trapezoid(roc["tpr"], roc["fpr"])) == pytest.approx(roc["auc"], abs=2e-3)
    assert all(v == round(v, 4) for v in roc["fpr"] + roc["tpr"] + pr["precision"])


def test_downsample_keeps_endpoints_and_follows_the_curve() -> None:
    x = np.linspace(0, 1, 10_000)
    y = np.sqrt(x)
    small_x, small_y = downsample(x, y, 101)
    assert len(small_x) == 101 and (small_x[0], small_x[-1]) == (0, 1)
    assert np.all(np.diff(small_x) > 0)
    assert np.max(np.abs(np.interp(x, small_x, small_y) - y)) < 0.02
    same_x, _ = downsample(x[:50], y[:50], 101)
    assert np.array_equal(same_x, x[:50])
    for size in (102, 103, 150, 202):  # buckets of one or two points
        kept_x, _ = downsample(x[:size], y[:size], 101)
        assert len(kept_x) == 101 and (kept_x[0], kept_x[-1]) == (x[0], x[size - 1])
        assert np.all(np.diff(kept_x) > 0)


def test_binary_svm_curves_come_from_its_decision_function(cancer) -> None:
    result = _train(cancer, "diagnosis", "svm")  # probability=False: no predict_proba
    assert not hasattr(result.pipeline[-1], "predict_proba")
    assert result.curves is not None
    assert result.curves["roc"]["auc"] == pytest.approx(result.metrics["roc_auc"], abs=1e-12)


def test_curves_are_none_for_multiclass_regression_and_one_class_test_rows(make_frame) -> None:
    assert _train(make_frame("classification"), "species", "random_forest").curves is None
    assert _train(make_frame("regression"), "price", "random_forest", "regression").curves is None
    assert binary_curves(["a", "a"], [0.2, 0.9], ["a", "b"]) is None  # no positive row
    assert binary_curves(["a", "b"], None, ["a", "b"]) is None
    assert binary_curves(["a", "b"], [np.nan, 0.5], ["a", "b"]) is None
    assert binary_curves(["a", "b", "c"], np.eye(3), ["a", "b", "c"]) is None


# -- importances ---------------------------------------------------------------------------
def _by_feature(importances: list[dict]) -> dict[str, float]:
    return {entry["feature"]: entry["importance"] for entry in importances}


def test_categorical_one_hot_columns_add_up_to_their_original_column(make_frame) -> None:
    frame = make_frame("classification", n=90)
    result = _train(frame, "species", "random_forest")
    importances = result.feature_importances
    assert importances is not None
    assert [e["feature"] for e in importances] == sorted(
        result.features, key=lambda f: -_by_feature(importances)[f]
    )
    assert set(_by_feature(importances)) == {"x1", "x2", "color"}
    assert math.fsum(e["importance"] for e in importances) == pytest.approx(1.0, abs=1e-12)
    # the reference: sklearn's importances of the output columns, grouped by their names
    names = result.pipeline[0].get_feature_names_out()
    raw = dict(zip(names, result.pipeline[-1].feature_importances_, strict=True))
    assert sum(1 for name in names if name.startswith("categorical__color_")) == 3
    color = sum(v for name, v in raw.items() if name.startswith("categorical__color_"))
    assert _by_feature(importances)["color"] == pytest.approx(color / sum(raw.values()))
    assert _by_feature(importances)["x1"] == pytest.approx(raw["numeric__x1"] / sum(raw.values()))
    _floats_only(importances)


def test_linear_importances_are_mean_absolute_coefficients(make_frame) -> None:
    frame = make_frame("classification", n=90)
    result = _train(frame, "species", "logistic_regression")
    coef = np.abs(result.pipeline[-1].coef_)  # 3 classes x 5 output columns
    assert coef.shape == (3, 5)
    per_column = coef.mean(axis=0)
    names = list(result.pipeline[0].get_feature_names_out())
    expected = {"x1": per_column[names.index("numeric__x1")]}
    expected["color"] = sum(v for n, v in zip(names, per_column, strict=True) if "color" in n)
    got = _by_feature(result.feature_importances or [])
    assert got["x1"] == pytest.approx(expected["x1"] / per_column.sum())
    assert got["color"] == pytest.approx(expected["color"] / per_column.sum())


def test_names_sharing_a_prefix_are_kept_apart() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "a": rng.choice(["b", "c"], 200).astype(object),  # one-hot: "a_b", "a_c"
            "a_b": rng.normal(size=200),
            "label": rng.choice(["x", "y"], 200).astype(object),
        }
    )
    frame["a_b"] += (frame["label"] == "y") * 3.0  # only "a_b" predicts the label
    result = _train(frame, "label", "decision_tree", max_depth=2)
    got = _by_feature(result.feature_importances or [])
    assert set(got) == {"a", "a_b"} and got["a_b"] > 0.9


def test_forest_importances_equal_sklearns_own() -> None:
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(200, 6)), rng.integers(0, 2, 200)
    for model in (
        RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y),
        ExtraTreesClassifier(n_estimators=20, random_state=0).fit(X, y),
        RandomForestRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, X[:, 0]),
    ):
        columns = [f"c{i}" for i in range(6)]
        pipeline = Pipeline([("preprocess", FunctionTransformer()), ("model", model)])
        assert feature_importances(pipeline, columns) is None  # not a ColumnTransformer
        frame = pd.DataFrame(X, columns=columns)
        pre = ColumnTransformer([("numeric", "passthrough", columns)]).fit(frame)
        got = _by_feature(feature_importances(Pipeline([("p", pre), ("m", model)]), columns) or [])
        want = model.feature_importances_
        assert [got[c] for c in columns] == pytest.approx(list(want / want.sum()), abs=1e-12)


def test_at_most_30_importances_are_kept_the_largest_first(cancer) -> None:
    frame = cancer.assign(**{f"noise_{i}": np.arange(len(cancer)) % (i + 2) for i in range(5)})
    result = _train(frame, "diagnosis", "random_forest", n_estimators=20)
    importances = result.feature_importances or []
    assert len(result.features) == 35 and len(importances) == MAX_FEATURES == 30
    values = [e["importance"] for e in importances]
    assert values == sorted(values, reverse=True) and sum(values) <= 1.0 + 1e-12


@pytest.mark.parametrize(
    ("name", "params"), [("knn", {}), ("svm", {}), ("svm", {"kernel": "linear"})]
)
def test_estimators_without_importances_give_none(name, params, make_frame) -> None:
    result = _train(make_frame("classification"), "species", name, **params)
    assert (result.feature_importances is None) == (params.get("kernel") != "linear")


CASES = [(alg.name, task) for alg in list_algorithms() for task in alg.tasks]


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_every_algorithm_gives_json_clean_chart_data(name, task, make_frame) -> None:
    frame = make_frame(task, n=60)
    target = "species" if task == "classification" else "price"
    if task == "classification":
        frame[target] = frame[target].where(frame[target] == "setosa", "other")  # binary
    result = _train(frame, target, name, task)
    chart_data = {"curves": result.curves, "feature_importances": result.feature_importances}
    json.dumps(chart_data, allow_nan=False)
    _floats_only(chart_data)
    assert (result.curves is not None) == (task == "classification")
    assert (result.feature_importances is None) == (name in {"knn", "svm"})


# -- through the API -----------------------------------------------------------------------
def _strict_json(response: Any) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def test_the_model_document_serves_the_chart_data_as_json(client, run_job) -> None:
    shown = {}
    for dataset, algorithm in (("breast_cancer", "random_forest"), ("iris", "knn")):
        body = {"dataset": dataset, "algorithm": algorithm, "model_name": f"charts_{algorithm}"}
        job_id = client.post("/api/v1/jobs", json=body).json["job_id"]
        run_job(job_id, "w")
        model_id = client.get(f"/api/v1/jobs/{job_id}").json["result"]["model_id"]
        shown[algorithm] = _strict_json(client.get(f"/api/v1/models/{model_id}"))

    forest = shown["random_forest"]
    assert set(forest["curves"]) == {"roc", "pr", "positive_label"}
    assert forest["curves"]["positive_label"] == "malignant"
    assert forest["curves"]["roc"]["auc"] == forest["metrics"]["roc_auc"]
    assert len(forest["curves"]["roc"]["fpr"]) == len(forest["curves"]["roc"]["tpr"]) <= 101
    assert set(forest["curves"]["pr"]) == {"recall", "precision", "average_precision"}
    features = [entry["feature"] for entry in forest["feature_importances"]]
    assert len(features) == 30 and set(features) <= set(forest["features"])
    assert set(forest["feature_importances"][0]) == {"feature", "importance"}
    knn = shown["knn"]  # multiclass and no importances: both present, both null
    assert knn["curves"] is None and knn["feature_importances"] is None
