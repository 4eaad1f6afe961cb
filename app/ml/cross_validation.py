"""One search trial: score a hyperparameter set by k-fold cross-validation.

The folds split the job's training rows (the same stratified hold-out split a training
job makes, so the test rows stay unseen by the search): stratified k-fold for
classification, shuffled k-fold for regression. ``cv=0`` scores one fit on the training
rows against the test rows instead. Scores are signed so that higher is better
(scikit-learn's ``neg_*`` scorers) and reported with the metric's own sign.

A trial started while the search has more free slots than candidates left (the last
rungs of a halving search) gets ``threads`` > 1 and fits its folds side by side, as
scikit-learn's searches spread (candidate, fold) pairs over ``n_jobs``.

A halving rung gives a trial ``n_resources`` of the training rows: each fold then fits on
that share of its training rows (a stratified sample for classification, as scikit-learn's
halving searches take) and is scored on its whole validation fold, so every rung's
scores are measured on the same rows.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.utils import resample

from app.errors import DataError
from app.ml.registry import Algorithm
from app.ml.training import Progress, build_pipeline, prepare_and_split


@dataclass
class TrialScores:
    """What one trial measured."""

    fold_scores: list[float]
    score: float  # mean of the folds, in the metric's own sign
    score_std: float
    fit_time: float  # seconds of fitting, summed over folds


def score_trial(
    df: pd.DataFrame,
    *,
    target: str,
    task: str,
    algorithm: Algorithm,
    hyperparameters: dict[str, Any],
    scorer: str,
    higher_is_better: bool,
    cv: int,
    test_size: float = 0.2,
    random_state: int | None = 42,
    n_resources: int | None = None,
    threads: int = 1,
    progress: Progress = lambda stage, pct: None,
) -> TrialScores:
    """Cross-validate ``algorithm`` with ``hyperparameters`` on the training rows of ``df``
    (fitting each fold on ``n_resources / len(training rows)`` of its rows if given), up
    to ``threads`` folds at once (threads: scikit-learn's fitting releases the GIL)."""
    progress("preprocessing", 20)
    X_train, X_test, y_train, y_test, features = prepare_and_split(
        df, target, task, test_size, random_state
    )
    pipeline = build_pipeline(X_train, features, algorithm, task, hyperparameters, random_state)
    progress("fitting", 30)
    sign = 1.0 if higher_is_better else -1.0
    share = 1.0 if n_resources is None else min(1.0, n_resources / len(y_train))
    stratified = task == "classification"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence etc.: the trial's score says enough
        if cv == 0:
            rows = _sample(np.arange(len(y_train)), y_train, share, stratified, random_state)
            started = time.perf_counter()
            pipeline.fit(X_train.iloc[rows], y_train.iloc[rows])
            fit_time = time.perf_counter() - started
            folds = [float(get_scorer(scorer)(pipeline, X_test, y_test))]
        else:
            splitter = _folds(task, cv, y_train, random_state)
            if share < 1.0:
                splitter = [
                    (_sample(fit, y_train, share, stratified, random_state), held)
                    for fit, held in splitter.split(X_train, y_train)
                ]
            with parallel_config(backend="threading"):  # n_jobs of nested fits stays 1
                result = cross_validate(
                    pipeline, X_train, y_train, cv=splitter, scoring=scorer,
                    error_score="raise", n_jobs=threads,
                )  # fmt: skip
            folds = [float(s) for s in result["test_score"]]
            fit_time = float(np.sum(result["fit_time"]))
    scores = [round(sign * s, 6) for s in folds]
    return TrialScores(
        fold_scores=scores,
        score=round(float(np.mean(scores)), 6),
        score_std=round(float(np.std(scores)), 6),
        fit_time=round(fit_time, 4),
    )


def _sample(
    rows: np.ndarray, y: pd.Series, share: float, stratified: bool, random_state: int | None
) -> np.ndarray:
    """``share`` of ``rows`` (stratified by ``y`` for classification), in their order."""
    if share >= 1.0:
        return rows
    size = max(1, int(share * len(rows)))
    labels = y.iloc[rows].to_numpy() if stratified else None
    picked = resample(
        rows, replace=False, n_samples=size, random_state=random_state, stratify=labels
    )
    return np.sort(picked)


def _folds(task: str, cv: int, y: pd.Series, random_state: int | None) -> Any:
    if task == "classification":
        smallest = int(y.value_counts().min())
        if smallest < cv:
            raise DataError(
                f"cv={cv} folds need at least {cv} training rows of every class; the"
                f" smallest class has {smallest}.",
                {"field": "cv", "value": cv},
            )
        return StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    if len(y) < cv:
        raise DataError(f"cv={cv} folds need at least {cv} training rows.", {"field": "cv"})
    return KFold(n_splits=cv, shuffle=True, random_state=random_state)
