"""ONNX copies of pipelines: conversion, parity, the categorical-imputer trap, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.ml import onnx_format
from app.ml.onnx_format import OnnxPipeline, convert
from app.ml.registry import get_algorithm
from app.ml.training import train_pipeline


def _mixed(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, n),
            "count": rng.integers(0, 10, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "flag": rng.choice([True, False], n),
        }
    )
    frame.loc[::17, "amount"] = np.nan  # missing numbers
    frame.loc[::13, "colour"] = None  # missing categories: the imputer skl2onnx cannot take
    frame["label"] = np.where((frame["count"] > 4) | (frame["colour"] == "red"), "yes", "no")
    return frame


@pytest.mark.parametrize(
    "algorithm", ["random_forest", "decision_tree", "gradient_boosting", "logistic_regression"]
)
def test_mixed_columns_with_missing_values_convert_with_full_parity(algorithm) -> None:
    result = train_pipeline(
        _mixed(), target="label", task="classification",
        algorithm=get_algorithm(algorithm), hyperparameters={},
    )  # fmt: skip
    conversion = convert(
        result.pipeline, result.features, result.feature_types, "classification", result.holdout
    )
    assert conversion.record["status"] == "ok", conversion.record
    assert conversion.record["agreement"] == 1.0 and conversion.record["rows"] == 120
    runtime = OnnxPipeline(conversion.onnx, result.features, result.feature_types, "classification")
    labels, proba = runtime.predict_with_proba(result.holdout)
    assert list(labels) == list(result.pipeline.predict(result.holdout))
    assert np.abs(proba - result.pipeline.predict_proba(result.holdout)).max() <= 1e-3


def test_a_regressor_converts_within_the_relative_tolerance() -> None:
    frame = _mixed().drop(columns="label")
    frame["value"] = frame["count"] * 1.5 + frame["amount"].fillna(0) / 10
    result = train_pipeline(
        frame, target="value", task="regression",
        algorithm=get_algorithm("random_forest"), hyperparameters={"n_estimators": 20},
    )  # fmt: skip
    conversion = convert(
        result.pipeline, result.features, result.feature_types, "regression", result.holdout
    )
    assert conversion.record["status"] == "ok" and conversion.record["max_abs_diff"] < 1e-3


def test_a_failed_conversion_is_unsupported_with_its_reason(monkeypatch) -> None:
    result = train_pipeline(
        _mixed(), target="label", task="classification",
        algorithm=get_algorithm("knn"), hyperparameters={},
    )  # fmt: skip

    def refuse(*args, **kwargs):
        raise NotImplementedError("no converter for this step")

    monkeypatch.setattr(onnx_format, "_to_onnx", refuse)
    conversion = convert(
        result.pipeline, result.features, result.feature_types, "classification", result.holdout
    )
    assert conversion.onnx is None
    assert conversion.record == {
        "status": "unsupported",
        "reason": "NotImplementedError: no converter for this step",
    }


def test_parity_below_the_threshold_keeps_no_onnx_file(monkeypatch) -> None:
    result = train_pipeline(
        _mixed(), target="label", task="classification",
        algorithm=get_algorithm("decision_tree"), hyperparameters={},
    )  # fmt: skip
    real = OnnxPipeline.predict_with_proba

    def off_by_one_row(self, frame):
        labels, proba = real(self, frame)
        labels = labels.copy()
        labels[0] = "no" if labels[0] == "yes" else "yes"
        return labels, proba

    monkeypatch.setattr(OnnxPipeline, "predict_with_proba", off_by_one_row)
    conversion = convert(
        result.pipeline, result.features, result.feature_types, "classification", result.holdout
    )
    assert conversion.onnx is None and conversion.record["status"] == "unsupported"
    assert "parity failed" in conversion.record["reason"]
    assert conversion.record["agreement"] == pytest.approx(1 - 1 / 120)


def test_the_original_pipeline_is_left_unchanged() -> None:
    result = train_pipeline(
        _mixed(), target="label", task="classification",
        algorithm=get_algorithm("decision_tree"), hyperparameters={},
    )  # fmt: skip
    before = result.pipeline.predict(result.holdout)
    convert(
        result.pipeline, result.features, result.feature_types, "classification", result.holdout
    )
    imputer = result.pipeline.steps[0][1].named_transformers_["categorical"].named_steps["impute"]
    assert imputer.missing_values is not onnx_format.MISSING
    assert list(result.pipeline.predict(result.holdout)) == list(before)
