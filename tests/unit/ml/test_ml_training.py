"""train_pipeline / save_model / load_model, swept across every registered algorithm."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from app.errors import DataError
from app.ml.registry import get_algorithm, list_algorithms
from app.ml.training import load_model, save_model, train_pipeline

TARGETS = {"classification": "species", "regression": "price"}
CASES = [(alg.name, task) for alg in list_algorithms() for task in alg.tasks]
CLASSIFICATION_KEYS = {
    "test_accuracy",
    "train_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "confusion_matrix",
    "labels",
    "roc_auc",
}
REGRESSION_KEYS = {"r2", "rmse", "mae"}
COMMON_KEYS = {"training_time", "n_train", "n_test"}


def _train(frame: pd.DataFrame, task: str, name: str, **kwargs):
    return train_pipeline(
        frame,
        target=TARGETS[task],
        task=task,
        algorithm=get_algorithm(name),
        hyperparameters=kwargs.pop("hyperparameters", {}),
        **kwargs,
    )


@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_every_algorithm_trains_predicts_original_labels_and_round_trips(name, task, make_frame):
    frame = make_frame(task)
    result = _train(frame, task, name)
    X = frame[result.features]
    predictions = result.pipeline.predict(X)

    expected_keys = CLASSIFICATION_KEYS if task == "classification" else REGRESSION_KEYS
    assert expected_keys | COMMON_KEYS <= set(result.metrics)
    assert result.metrics["n_train"] + result.metrics["n_test"] == len(frame)
    deprecations = ("FutureWarning", "DeprecationWarning")
    assert not [w for w in result.metrics.get("warnings", []) if w.startswith(deprecations)]
    assert result.features == ["x1", "x2", "color"]
    if task == "classification":
        assert result.classes == ["setosa", "versicolor", "virginica"]
        assert set(predictions) <= set(result.classes)
    else:
        assert result.classes is None
        assert np.issubdtype(np.asarray(predictions).dtype, np.floating)

    buffer = io.BytesIO()
    save_model(result.pipeline, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(load_model(buffer).predict(X), predictions)


def test_saved_model_loads_in_fresh_python_without_app(classification_frame, tmp_path):
    result = _train(classification_frame, "classification", "random_forest")
    path = tmp_path / "model.joblib"
    with path.open("wb") as fileobj:
        save_model(result.pipeline, fileobj)
    classification_frame.head(3).to_csv(tmp_path / "rows.csv", index=False)
    code = (
        "import sys, joblib, pandas as pd\n"
        "model = joblib.load('model.joblib')\n"
        "rows = pd.read_csv('rows.csv').drop(columns='species')\n"
        "assert not any(m == 'app' or m.startswith('app.') for m in sys.modules), 'app imported'\n"
        "print(','.join(model.predict(rows)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    expected = result.pipeline.predict(classification_frame.head(3).drop(columns="species"))
    assert done.stdout.strip().split(",") == list(expected)


def test_progress_stages_in_order(classification_frame):
    seen = []
    _train(
        classification_frame,
        "classification",
        "decision_tree",
        progress=lambda s, p: seen.append((s, p)),
    )
    assert [s for s, _ in seen] == ["preprocessing", "fitting", "evaluating"]
    assert [p for _, p in seen] == sorted(p for _, p in seen)


def test_effective_hyperparameters_and_random_state_reproducible(classification_frame):
    first = _train(
        classification_frame,
        "classification",
        "random_forest",
        hyperparameters={"n_estimators": 7.0},
    )
    second = _train(
        classification_frame, "classification", "random_forest", hyperparameters={"n_estimators": 7}
    )
    assert first.hyperparameters["n_estimators"] == 7
    assert first.hyperparameters == second.hyperparameters
    assert first.pipeline.named_steps["model"].n_jobs == 1
    assert first.metrics["confusion_matrix"] == second.metrics["confusion_matrix"]


def test_unseen_category_at_predict_time_is_ignored(classification_frame):
    result = _train(classification_frame, "classification", "logistic_regression")
    row = pd.DataFrame({"x1": [0.0], "x2": [0.1], "color": ["ultraviolet"]})
    assert result.pipeline.predict(row)[0] in result.classes


def test_rows_with_missing_target_are_dropped(regression_frame):
    regression_frame.loc[:5, "price"] = np.nan
    result = _train(regression_frame, "regression", "ridge")
    assert result.metrics["n_train"] + result.metrics["n_test"] == len(regression_frame) - 6


def test_integer_labels_stay_integers(classification_frame):
    codes = {"setosa": 0, "versicolor": 1, "virginica": 2}
    classification_frame["species"] = classification_frame["species"].map(codes).astype(float)
    result = _train(classification_frame, "classification", "knn")
    assert result.classes == [0, 1, 2]
    assert all(type(c) is int for c in result.classes)


def test_class_too_small_to_stratify_is_a_data_error(classification_frame):
    classification_frame.loc[0, "species"] = "unicorn"
    with pytest.raises(DataError, match="'unicorn' has only 1 row"):
        _train(classification_frame, "classification", "decision_tree")


def test_regression_needs_numeric_target(classification_frame):
    with pytest.raises(DataError, match="not numeric"):
        train_pipeline(
            classification_frame,
            target="species",
            task="regression",
            algorithm=get_algorithm("ridge"),
            hyperparameters={},
        )


def test_classification_rejects_fractional_target(regression_frame):
    with pytest.raises(DataError, match="regression"):
        train_pipeline(
            regression_frame,
            target="price",
            task="classification",
            algorithm=get_algorithm("knn"),
            hyperparameters={},
        )


def test_too_few_rows_is_a_data_error(regression_frame):
    with pytest.raises(DataError, match="split"):
        _train(regression_frame.head(2), "regression", "ridge", test_size=0.2)


def test_more_neighbors_than_rows_is_a_data_error_not_a_crash(classification_frame):
    with pytest.raises(DataError, match="n_neighbors"):
        _train(classification_frame, "classification", "knn", hyperparameters={"n_neighbors": 500})


def _pipeline_reference(pipeline, task, X_train, y_train, X_test, y_test):
    """Metrics computed with the Pipeline's own predict/predict_proba/decision_function."""
    from sklearn.metrics import accuracy_score

    from app.ml.metrics import classification_metrics, regression_metrics

    y_pred = pipeline.predict(X_test)
    if task == "regression":
        return regression_metrics(y_test, y_pred)
    if hasattr(pipeline, "predict_proba"):
        score = pipeline.predict_proba(X_test)
    elif hasattr(pipeline, "decision_function") and len(pipeline.classes_) == 2:
        score = pipeline.decision_function(X_test)
    else:
        score = None
    train_accuracy = accuracy_score(y_train, pipeline.predict(X_train))
    return classification_metrics(y_test, y_pred, score, list(pipeline.classes_), train_accuracy)


EVAL_CASES = [(n, t, False) for n, t in CASES] + [
    (n, t, True) for n, t in CASES if t == "classification"
]


@pytest.mark.parametrize(
    ("name", "task", "binary"), EVAL_CASES, ids=[f"{n}-{t}-{b}" for n, t, b in EVAL_CASES]
)
def test_evaluation_on_transformed_arrays_equals_pipeline_calls(name, task, binary, make_frame):
    from app.ml.training import _evaluate

    frame = make_frame(task, n=60)
    if binary:
        frame["species"] = frame["species"].where(frame["species"] == "setosa", "other")
    result = _train(frame, task, name)
    X, y = frame[result.features], frame[TARGETS[task]]
    parts = (X.iloc[:40], y.iloc[:40], X.iloc[40:], y.iloc[40:])
    assert _evaluate(result.pipeline, task, *parts) == _pipeline_reference(
        result.pipeline, task, *parts
    )


def test_hyperparameters_are_checked_again_when_training(classification_frame):
    from app.errors import ValidationError

    result = _train(
        classification_frame, "classification", "decision_tree", hyperparameters={"max_depth": 3}
    )
    assert result.hyperparameters["max_depth"] == 3
    for bad in ({"max_depth": -1}, {"max_depth": 1001}):  # per value, fleet bound
        with pytest.raises(ValidationError):
            _train(classification_frame, "classification", "decision_tree", hyperparameters=bad)
    with pytest.raises(ValidationError):  # combinations too
        _train(
            classification_frame,
            "classification",
            "random_forest",
            hyperparameters={"oob_score": True, "bootstrap": False},
        )
