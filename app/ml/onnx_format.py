"""ONNX copies of fitted pipelines: convert with skl2onnx, check parity, run with ONNX Runtime.

An ONNX file holds no code (it is a protobuf graph), and ONNX Runtime predicts one row in
microseconds where a scikit-learn Pipeline takes milliseconds. Every feature is an input
of its own (``[n, 1]``): numeric features as float32, categorical ones as strings.

The categorical branch imputes NaN, which skl2onnx cannot convert for string inputs
("missing values are string not float"). So the converted graph is made from a copy of
the fitted pipeline whose categorical imputer treats ``""`` as missing and whose learned
values (the imputed value, the encoder's categories) are strings; ``onnx_inputs`` feeds
a missing categorical value as ``""`` and every other one as ``str(value)``. The
original pipeline is not changed, and the parity check compares the two on the test
split: the same labels on ≥ 99.9 % of rows and probabilities (or regression values)
within a tolerance on ≥ 99.9 % of rows, else no ONNX file is kept.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from app.ml.preprocessing import CATEGORICAL, NUMERIC

log = logging.getLogger(__name__)

MIN_AGREEMENT = 0.999  # share of test rows whose label (or value) must match
PROBABILITY_TOLERANCE = 1e-3  # absolute, per class probability
REGRESSION_TOLERANCE = 1e-4  # relative to max(1, |value|)
PARITY_ROWS = 20_000  # test rows compared at most (a random sample above that)
MISSING = ""  # a missing categorical value, as the ONNX graph sees it


@dataclass
class Conversion:
    """What converting one pipeline produced: the ONNX bytes (None unless parity passed) and
    the record kept in the model document's ``formats.onnx``."""

    onnx: bytes | None
    record: dict[str, Any]


def convert(
    pipeline: Pipeline,
    features: list[str],
    feature_types: dict[str, str],
    task: str,
    holdout: pd.DataFrame,
) -> Conversion:
    """Convert a fitted pipeline and check it on ``holdout`` (its test rows, raw features).

    Never raises: a pipeline that does not convert, or converts without parity, gives
    ``{"status": "unsupported", "reason": ...}``; the training job goes on either way.
    """
    try:
        raw = _to_onnx(pipeline, features, feature_types, task)
        runtime = OnnxPipeline(raw, features, feature_types, task)
        parity = check_parity(pipeline, runtime, holdout, task)
    except Exception as exc:  # skl2onnx raises many types; none may fail the job
        log.info("ONNX conversion failed: %s: %s", type(exc).__name__, exc)
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        return Conversion(None, {"status": "unsupported", "reason": reason})
    if parity["agreement"] < MIN_AGREEMENT:
        share = f"{parity['agreement']:.2%}"
        reason = f"parity failed: ONNX matches scikit-learn on {share} of the test rows"
        return Conversion(None, {"status": "unsupported", "reason": reason, **parity})
    return Conversion(raw, {"status": "ok", "reason": "", **parity})


def _to_onnx(pipeline: Pipeline, features: list[str], types: dict[str, str], task: str) -> bytes:
    from skl2onnx import to_onnx  # imported on first use: ~1 s, only workers convert
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    graph_ready = convertible_copy(pipeline)
    initial_types = [
        (f, FloatTensorType([None, 1]) if types[f] == NUMERIC else StringTensorType([None, 1]))
        for f in features
    ]
    estimator = graph_ready.steps[-1][1]
    options = {id(estimator): {"zipmap": False}} if task == "classification" else None
    return to_onnx(graph_ready, initial_types=initial_types, options=options).SerializeToString()


def convertible_copy(pipeline: Pipeline) -> Pipeline:
    """A copy of ``pipeline`` whose categorical branch skl2onnx can convert (see above)."""
    graph_ready = copy.deepcopy(pipeline)
    for name, branch, _ in graph_ready.steps[0][1].transformers_:
        if name != CATEGORICAL:
            continue
        imputer, encoder = branch.named_steps["impute"], branch.named_steps["encode"]
        imputer.missing_values = MISSING
        imputer.statistics_ = np.array([str(v) for v in imputer.statistics_], dtype=object)
        encoder.categories_ = [
            np.array([str(v) for v in values], dtype=object) for values in encoder.categories_
        ]
    return graph_ready


def onnx_inputs(frame: Any, features: list[str], types: dict[str, str]) -> dict[str, np.ndarray]:
    """One ``[n, 1]`` array per feature of ``frame`` (a DataFrame, or any mapping of column →
    values with numeric columns already numbers): float32 for numeric ones, strings
    otherwise."""
    inputs = {}
    for feature in features:
        column = frame[feature]
        if types[feature] == NUMERIC:
            values = np.asarray(column, dtype=np.float32)
        else:
            text = [MISSING if _missing(v) else str(v) for v in column]
            values = np.array(text, dtype=object)
        inputs[feature] = values.reshape(-1, 1)
    return inputs


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


class OnnxPipeline:
    """An ONNX model with the part of a Pipeline's interface serving uses."""

    def __init__(
        self, raw: bytes, features: list[str], feature_types: dict[str, str], task: str
    ) -> None:
        import onnxruntime  # imported on first use (serving processes that need it only)

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one request, one core: gunicorn threads scale it
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            raw, options, providers=["CPUExecutionProvider"]
        )
        self.features = list(features)
        self.feature_types = {f: feature_types.get(f, CATEGORICAL) for f in features}
        self.task = task
        self.size_bytes = len(raw)

    def _run(self, frame: Any) -> list[np.ndarray]:
        return self.session.run(None, onnx_inputs(frame, self.features, self.feature_types))

    def predict_with_proba(self, frame: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels (or regression values) and class probabilities of the rows of ``frame`` (a
        DataFrame or a mapping of column → values, see ``onnx_inputs``), in one run
        (probabilities None for regression)."""
        outputs = self._run(frame)
        labels = np.asarray(outputs[0]).ravel()
        if self.task != "classification" or len(outputs) < 2:
            return labels, None
        return labels, np.asarray(outputs[1])


def check_parity(
    pipeline: Pipeline, runtime: OnnxPipeline, holdout: pd.DataFrame, task: str
) -> dict[str, Any]:
    """How closely ONNX reproduces scikit-learn on ``holdout``: ``agreement`` (the share of
    rows within tolerance: same label and probabilities, or a close value), ``max_abs_diff``
    and ``rows`` compared."""
    if len(holdout) > PARITY_ROWS:
        holdout = holdout.sample(PARITY_ROWS, random_state=0)
    if holdout.empty:
        raise ValueError("no test rows to check parity on")
    labels, proba = runtime.predict_with_proba(holdout)
    if task == "regression":
        expected = np.asarray(pipeline.predict(holdout), dtype=float)
        diff = np.abs(labels.astype(float) - expected)
        close = diff <= REGRESSION_TOLERANCE * np.maximum(1.0, np.abs(expected))
    else:
        close = labels == np.asarray(pipeline.predict(holdout)).astype(labels.dtype)
        diff = np.zeros(len(holdout))
        if proba is not None and hasattr(pipeline, "predict_proba"):
            diff = np.abs(proba - pipeline.predict_proba(holdout)).max(axis=1)
            close &= diff <= PROBABILITY_TOLERANCE
    return {
        "agreement": round(float(close.mean()), 6),
        "max_abs_diff": float(diff.max()),
        "rows": len(holdout),
    }
