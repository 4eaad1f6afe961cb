"""Combinations of hyperparameter values an estimator cannot fit, as data.

scikit-learn checks each value against its ``_parameter_constraints`` at ``fit``, but some
combinations fail only later in ``fit`` (``oob_score=True`` with ``bootstrap=False``, a
kd-tree with the cosine metric, ...). ``RULES`` states them per estimator class, in the
same terms: a ``Rule`` says that when every parameter in ``when`` satisfies its
constraints, ``param`` must satisfy ``allowed``. Constraints are sklearn declarations
(``Options``, ``Interval``, ``None``; a list means any of them), so messages read like
sklearn's. ``check_combinations`` is the one validator; nothing is fitted.

The table is exact for the exposed values: ``tests/unit/ml/test_ml_combinations.py``
fits every pair of values (and every product of the values a rule relates) and
compares with what this validator rejects. Failures that depend on the data rather than
the values are not rules here: the number of classes and rows are dataset rules
(``app.ml.hyperparameters``); sparse one-hot input (KNN metrics outside
``VALID_METRICS_SPARSE``, Ridge ``svd``/``cholesky`` with an intercept) and a negative
target with ``criterion="poisson"`` still fail in the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import VALID_METRICS, KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    _Constraint,
    make_constraint,
)

from app.errors import ValidationError
from app.ml.constraints import UNSUPPORTED_OPTIONS, constraint_text


class _NotNone(_Constraint):
    """Any value but None (e.g. ``max_samples`` set to a count or a fraction)."""

    def is_satisfied_by(self, val: Any) -> bool:
        """Whether ``val`` is not None."""
        return val is not None

    def __str__(self) -> str:
        """The text used in messages."""
        return "not None"


def _is(*values: Any) -> Options:
    """Exactly ``values`` (numbers compare by value: ``1`` matches ``1.0``)."""
    kind = Real if all(type(v) in (int, float) for v in values) else type(values[0])
    return Options(kind, set(values))


@dataclass(frozen=True)
class Rule:
    """When every ``when`` param satisfies its constraints, ``param`` must satisfy ``allowed``."""

    when: Mapping[str, Sequence[Any]]
    param: str
    allowed: Sequence[Any]

    def applies(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` meets every condition of ``when``."""
        return all(_satisfies(params.get(k), cs) for k, cs in self.when.items())

    def broken_by(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` meets ``when`` but ``param`` is not ``allowed``."""
        return self.applies(params) and not _satisfies(params.get(self.param), self.allowed)


_FOREST = (
    Rule({"oob_score": [_is(True)]}, "bootstrap", [_is(True)]),
    Rule({"max_samples": [_NotNone()]}, "bootstrap", [_is(True)]),
)
_KNN = (
    *(
        Rule({"algorithm": [_is(tree)]}, "metric", [StrOptions(set(metrics) - UNSUPPORTED_OPTIONS)])
        for tree, metrics in sorted(VALID_METRICS.items())
    ),
    Rule({"metric": [_is("minkowski")]}, "p", [Interval(Real, 0, None, closed="neither")]),
    Rule(
        {"algorithm": [_is("ball_tree", "kd_tree")], "metric": [_is("minkowski")]},
        "p",
        [Interval(Real, 1, None, closed="left")],
    ),
)
_LOGISTIC = (  # l1_ratio 0 (or None) is the L2 penalty, 1 is L1, in between elastic-net
    Rule({"l1_ratio": [Interval(Real, 0, 1, closed="neither")]}, "solver", [_is("saga")]),
    Rule({"l1_ratio": [_is(1)]}, "solver", [_is("liblinear", "saga")]),
    Rule({"dual": [_is(True)]}, "solver", [_is("liblinear")]),
    Rule({"dual": [_is(True)]}, "l1_ratio", [_is(0), None]),
)
RULES: Mapping[type, tuple[Rule, ...]] = {
    RandomForestClassifier: _FOREST,
    RandomForestRegressor: _FOREST,
    KNeighborsClassifier: _KNN,
    KNeighborsRegressor: _KNN,
    LogisticRegression: _LOGISTIC,
    Ridge: (
        Rule({"positive": [_is(True)]}, "solver", [_is("auto", "lbfgs")]),
        Rule({"solver": [_is("lbfgs")]}, "positive", [_is(True)]),
    ),
    SVC: (Rule({"break_ties": [_is(True)]}, "decision_function_shape", [_is("ovr")]),),
}


def check_combinations(estimator: type, params: Mapping[str, Any]) -> None:
    """ValidationError for the first rule of ``estimator`` that ``params`` breaks."""
    for rule in RULES.get(estimator, ()):
        if rule.broken_by(params):
            raise _error(estimator.__name__, rule, params)


def _error(estimator_name: str, rule: Rule, params: Mapping[str, Any]) -> ValidationError:
    """The ValidationError of ``rule``, naming both sides, their values and what is allowed."""
    allowed = _text(rule.allowed)
    when = " and ".join(f"{k!r} is {_text(cs)}" for k, cs in rule.when.items())
    got = ", ".join(f"{k}={params.get(k)!r}" for k in (rule.param, *rule.when))
    return ValidationError(
        f"The {rule.param!r} parameter of {estimator_name} must be {allowed} when {when}."
        f" Got {got} instead.",
        {
            "field": f"hyperparameters.{rule.param}",
            "constraints": [allowed],
            "when": {k: params.get(k) for k in rule.when},
        },
    )


def _constraint(declaration: Any) -> _Constraint:
    """The constraint object of a declaration (sklearn's, or one of this module's)."""
    return declaration if isinstance(declaration, _Constraint) else make_constraint(declaration)


def _satisfies(value: Any, constraints: Sequence[Any]) -> bool:
    """Whether ``value`` satisfies any of the constraint declarations ``constraints``."""
    return any(_constraint(c).is_satisfied_by(value) for c in constraints)


def _text(constraints: Sequence[Any]) -> str:
    """Human-readable text of constraint declarations: ``'saga'``, ``0 or None``, ..."""
    texts = []
    for constraint in map(_constraint, constraints):
        options = sorted(constraint.options) if isinstance(constraint, Options) else ()
        texts.append(repr(options[0]) if len(options) == 1 else constraint_text(constraint))
    return " or ".join(texts)
