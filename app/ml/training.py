"""Train one model: split, fit a preprocessing + estimator Pipeline, evaluate, serialize.

Classifiers are fitted on the original labels (scikit-learn encodes them internally and
keeps them in ``classes_``), so the saved Pipeline predicts the original labels and
contains only scikit-learn objects: ``joblib.load`` works with sklearn/pandas/numpy alone.
"""

from __future__ import annotations

import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import joblib
import pandas as pd
import sklearn
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from app.errors import DataError, ValidationError
from app.ml.explain import binary_curves, feature_importances
from app.ml.hyperparameters import validate_hyperparameters
from app.ml.metrics import classification_metrics, regression_metrics, to_jsonable
from app.ml.preprocessing import (
    CATEGORICAL,
    NUMERIC,
    build_preprocessor,
    is_numeric,
    required_features,
    target_values,
)
from app.ml.registry import Algorithm, build_estimator
from app.ml.summaries import summarize

Progress = Callable[[str, int], None]  # (stage, percent) reported while a model trains
MIN_TRAIN_ROWS = 2
MAX_WARNINGS = 20  # distinct warning messages kept in metrics
_LIBRARY_WARNINGS = (DeprecationWarning, PendingDeprecationWarning)  # not about the user's model


class BinaryWriter(Protocol):
    """Where a model is serialized to: a binary file, or a GridFS upload stream."""

    def write(self, data: bytes, /) -> int:
        """Append ``data``; returns how many bytes were written."""
        ...


@dataclass
class TrainingResult:
    """A fitted Pipeline with what describes it."""

    pipeline: Pipeline
    metrics: dict[str, Any]
    features: list[str]
    classes: list | None
    hyperparameters: dict[str, Any]
    feature_types: dict[str, str]  # "numeric" or "categorical", as the preprocessing treats it
    holdout: pd.DataFrame  # the test split's raw features (parity checks of exported formats)
    training_profile: dict[str, dict[str, Any]]  # summary per feature of the training rows
    # Chart data (``app.ml.explain``): binary ROC/PR curves on the test split, and
    # importances per original feature; None when they do not apply.
    curves: dict[str, Any] | None = None
    feature_importances: list[dict[str, Any]] | None = None


def library_versions() -> dict[str, str]:
    """The versions a saved model needs to load (recorded with every model)."""
    return {
        "sklearn_version": sklearn.__version__,
        "pandas_version": pd.__version__,
        "python_version": platform.python_version(),
    }


def train_pipeline(
    df: pd.DataFrame,
    *,
    target: str,
    task: str,
    algorithm: Algorithm,
    hyperparameters: dict[str, Any],
    test_size: float = 0.2,
    random_state: int | None = 42,
    progress: Progress = lambda stage, pct: None,
) -> TrainingResult:
    """Train ``algorithm`` on ``df`` to predict ``target``; DataError if the data can't be used.

    Rows with a missing target are dropped. ``metrics["training_time"]`` is the wall-clock
    seconds of ``Pipeline.fit`` (preprocessing + estimator) only; ``metrics["warnings"]``
    lists warnings raised while fitting/evaluating (e.g. convergence), if any.
    ``hyperparameters`` are validated again (constraints and bounds only: cheap), so a
    stored job can never train on a value the request layer would refuse.
    """
    effective = validate_hyperparameters(algorithm, task, hyperparameters)
    if not 0 < test_size < 1:
        raise ValidationError("test_size must be between 0 and 1.", {"field": "test_size"})
    progress("preprocessing", 20)
    X_train, X_test, y_train, y_test, features = prepare_and_split(
        df, target, task, test_size, random_state
    )
    pipeline = build_pipeline(X_train, features, algorithm, task, effective, random_state)
    progress("fitting", 30)
    parts = (X_train, X_test, y_train, y_test)
    metrics, y_score = _fit_and_evaluate(pipeline, task, parts, progress)
    classes = [to_jsonable(c) for c in pipeline.classes_] if task == "classification" else None
    types = {f: NUMERIC if is_numeric(X_train[f]) else CATEGORICAL for f in features}
    profile = summarize(X_train, types)
    curves = binary_curves(y_test, y_score, list(pipeline.classes_)) if classes else None
    importances = feature_importances(pipeline, features)
    return TrainingResult(
        pipeline, metrics, features, classes, effective, types, X_test, profile, curves, importances
    )


def _fit_and_evaluate(
    pipeline: Pipeline, task: str, parts: tuple, progress: Progress
) -> tuple[dict[str, Any], Any]:
    """Fit, report "evaluating", score: metrics with timing, sizes and captured warnings,
    and the test scores (see ``_scores``; None for regression)."""
    X_train, X_test, y_train, y_test = parts
    with warnings.catch_warnings(record=True) as fit_warnings:
        warnings.simplefilter("always")
        elapsed = _fit(pipeline, X_train, y_train)
    progress("evaluating", 80)  # outside the capture: the caller's own warnings are not ours
    with warnings.catch_warnings(record=True) as eval_warnings:
        warnings.simplefilter("always")
        metrics, y_score = _evaluation(pipeline, task, X_train, y_train, X_test, y_test)
    metrics.update(training_time=round(elapsed, 6), n_train=len(X_train), n_test=len(X_test))
    caught = [w for w in fit_warnings + eval_warnings if w.category not in _LIBRARY_WARNINGS]
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    if messages:
        metrics["warnings"] = messages[:MAX_WARNINGS]
    return metrics, y_score


def build_pipeline(
    X: pd.DataFrame,
    features: list[str],
    algorithm: Algorithm,
    task: str,
    hyperparameters: dict[str, Any],
    random_state: int | None,
) -> Pipeline:
    """The unfitted Pipeline every model is: preprocessing of ``features`` (as ``X`` holds
    them), then ``algorithm``'s estimator for ``task``."""
    estimator = build_estimator(algorithm, task, hyperparameters, random_state)
    preprocess = build_preprocessor(X, features, scale=algorithm.scale_features)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def prepare_and_split(
    df: pd.DataFrame, target: str, task: str, test_size: float, random_state: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series, list]:
    """``X_train, X_test, y_train, y_test, features`` of ``df``: rows with a target, the
    feature columns, split (stratified for classification); DataError if unusable."""
    X, y, features = _prepare(df, target, task)
    return (*_split(X, y, task, test_size, random_state), features)


def _prepare(df: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, pd.Series, list]:
    """Features and cleaned target of the rows that have a target; DataError if unusable."""
    y = target_values(df, target)
    features = required_features(df, target)
    details = {"field": "target"}
    if task == "regression" and not is_numeric(y):
        raise DataError(f"Target {target!r} is not numeric; regression needs numbers.", details)
    if task == "classification" and pd.api.types.is_float_dtype(y):
        message = f"Target {target!r} has fractional values; use a regression algorithm."
        raise DataError(message, details)
    return df.loc[y.index, features], y, features


def _split(
    X: pd.DataFrame, y: pd.Series, task: str, test_size: float, random_state: int | None
) -> list:
    """Train/test split, stratified by class for classification; DataError if impossible."""
    stratify = _check_classes(y) if task == "classification" else None
    details = {"n_samples": len(y), "test_size": test_size}
    try:
        parts = train_test_split(
            X, y, test_size=test_size, random_state=random_state, stratify=stratify
        )
    except ValueError as exc:
        message = f"Cannot split {len(y)} rows into train and test sets: {exc}"
        raise DataError(message, details) from None
    if len(parts[0]) < MIN_TRAIN_ROWS:
        message = f"Cannot split {len(y)} rows: the training set would have {len(parts[0])} row."
        raise DataError(message, details)
    return parts


def _check_classes(y: pd.Series) -> pd.Series:
    """``y`` if every class (at least two) can be stratified; DataError otherwise."""
    counts = y.value_counts()
    details = {"field": "target", "class_counts": {str(k): int(v) for k, v in counts.items()}}
    if len(counts) < 2:
        message = "The target has a single class; classification needs at least two."
        raise DataError(message, details)
    if counts.min() < 2:
        label = to_jsonable(counts.idxmin())
        raise DataError(
            f"Class {label!r} has only {counts.min()} row; every class needs at least 2 rows"
            " for a stratified train/test split.",
            details,
        )
    return y


def _fit(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series) -> float:
    """Fit ``pipeline``; seconds taken. A ValueError from sklearn is a DataError."""
    start = time.perf_counter()
    try:
        pipeline.fit(X, y)
    except ValueError as exc:
        raise DataError(f"Training failed on this dataset: {exc}", {}) from None
    return time.perf_counter() - start


def _evaluate(pipeline: Pipeline, task: str, X_train, y_train, X_test, y_test) -> dict[str, Any]:
    """Test metrics of a fitted pipeline (and train accuracy for classification)."""
    return _evaluation(pipeline, task, X_train, y_train, X_test, y_test)[0]


def _evaluation(
    pipeline: Pipeline, task: str, X_train, y_train, X_test, y_test
) -> tuple[dict[str, Any], Any]:
    """``_evaluate``'s metrics, and the test scores (``_scores``; None for regression).

    Each split is transformed once by the fitted preprocessing steps and the final
    estimator is called on the result: the same values as ``pipeline.predict`` etc.,
    without re-running the preprocessing for every prediction method.
    """
    preprocess, model = pipeline[:-1], pipeline[-1]
    try:
        Xt_test = preprocess.transform(X_test)
        y_pred = model.predict(Xt_test)
        if task == "regression":
            return regression_metrics(y_test, y_pred), None
        train_accuracy = accuracy_score(y_train, model.predict(preprocess.transform(X_train)))
        y_score = _scores(model, Xt_test)
    except ValueError as exc:
        raise DataError(f"Evaluation failed on this dataset: {exc}", {}) from None
    labels = list(model.classes_)
    metrics = classification_metrics(
        y_test, y_pred, y_score, labels=labels, train_accuracy=train_accuracy
    )
    return metrics, y_score


def _scores(model: Any, X: Any) -> Any:
    """``predict_proba`` if available, else a binary ``decision_function``, else None.

    ``model`` is the pipeline's final estimator and ``X`` already preprocessed.
    """
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    if hasattr(model, "decision_function") and len(model.classes_) == 2:
        return model.decision_function(X)
    return None


def save_model(pipeline: Pipeline, fileobj: BinaryWriter, compress: int = 3) -> None:
    """Serialize a fitted pipeline to a binary file object with joblib."""
    joblib.dump(pipeline, fileobj, compress=compress)


def load_model(fileobj: BinaryIO) -> Pipeline:
    """A pipeline saved by ``save_model``. Unpickling runs code: call it only on bytes whose
    signature was verified (``app.serving.loader.load_verified_model`` does)."""
    model = joblib.load(fileobj)
    if not isinstance(model, Pipeline):
        raise TypeError(f"Expected a scikit-learn Pipeline, got {type(model).__name__}.")
    return model
