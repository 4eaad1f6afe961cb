"""Hyperparameter search spaces: validation, candidates, and the metric a search ranks by.

A space maps each hyperparameter to a list of values (``[3, 5, 10, null]``) or a range
(``{"low": 10, "high": 500, "log": true, "type": "int"}``). Every value of a list and both
ends of a range pass the same scikit-learn constraints and fleet bounds as a single job,
with the search's fixed parameters, before anything is queued. ``grid`` takes every
combination (scikit-learn's ``ParameterGrid``; lists only); ``random`` draws ``trials``
candidates with ``ParameterSampler``, reproducibly for a ``random_state``, ranges with
``log`` sampled log-uniformly (a space of lists only is sampled without repeats, so it
yields at most its number of combinations). ``halving`` draws its first rung the same way
(``app.ml.halving`` plans the rungs); ``bayesian`` knows no candidate up front
(``app.ml.bayesian`` asks for each).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from scipy import stats
from sklearn.model_selection import ParameterGrid, ParameterSampler

from app.errors import ValidationError
from app.ml.hyperparameters import DataShape, validate_hyperparameters
from app.ml.metrics import HEADLINE_METRIC, to_jsonable
from app.ml.registry import Algorithm, hyperparameter_specs

STRATEGIES = ("grid", "random", "halving", "bayesian")
MAX_CANDIDATES = 10_000  # combinations a grid may have at most
# Metrics a trial can be ranked by → (scikit-learn scorer, True if higher is better).
SCORERS = {
    "classification": {
        "test_accuracy": ("accuracy", True),
        "f1_macro": ("f1_macro", True),
        "f1_weighted": ("f1_weighted", True),
        "precision_macro": ("precision_macro", True),
        "recall_macro": ("recall_macro", True),
        "precision_weighted": ("precision_weighted", True),
        "recall_weighted": ("recall_weighted", True),
        "roc_auc": ("roc_auc_ovr", True),
    },
    "regression": {
        "r2": ("r2", True),
        "rmse": ("neg_root_mean_squared_error", False),
        "mae": ("neg_mean_absolute_error", False),
    },
}


@dataclass(frozen=True)
class Range:
    """A numeric range: ``low`` to ``high``, integers or floats, optionally log-scaled."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def distribution(self) -> Any:
        """A scipy distribution ``ParameterSampler`` draws from."""
        if self.integer and not self.log:
            return stats.randint(int(self.low), int(self.high) + 1)
        if self.log:
            return _RoundedLog(self.low, self.high, self.integer)
        return stats.uniform(self.low, self.high - self.low)


class _RoundedLog:
    """Log-uniform on ``[low, high]``; rounded to an int for integer parameters."""

    def __init__(self, low: float, high: float, integer: bool) -> None:
        self._dist, self._integer = stats.loguniform(low, high), integer

    def rvs(self, random_state: Any = None) -> float | int:
        value = float(self._dist.rvs(random_state=random_state))
        return round(value) if self._integer else value


def ranking(task: str, metric: str | None) -> tuple[str, str, bool]:
    """``(metric, scorer, higher_is_better)``; the headline metric by default;
    ValidationError naming the allowed metrics of ``task`` otherwise."""
    chosen = metric or HEADLINE_METRIC[task]
    known = SCORERS[task]
    if chosen not in known:
        raise ValidationError(
            f"Metric {chosen!r} does not exist for {task}.",
            {"field": "metric", "value": chosen, "allowed": sorted(known)},
        )
    scorer, higher = known[chosen]
    return chosen, scorer, higher


def parse_space(
    algorithm: Algorithm,
    task: str,
    space: Mapping[str, Any],
    fixed: Mapping[str, Any],
    data: DataShape | None = None,
) -> dict[str, list[Any] | Range]:
    """The checked space: each parameter's list of values or ``Range`` (each value and
    both ends of each range fitting ``data`` if given); ValidationError naming the field
    (``space.<name>``) and the offending value otherwise."""
    if not isinstance(space, Mapping) or not space:
        raise ValidationError("The space needs at least one parameter.", {"field": "space"})
    overlap = sorted(set(space) & set(fixed))
    if overlap:
        raise ValidationError(
            f"{', '.join(overlap)} cannot be both searched and fixed.",
            {"field": f"space.{overlap[0]}"},
        )
    validate_hyperparameters(algorithm, task, dict(fixed))  # the fixed values alone
    specs = hyperparameter_specs(algorithm.estimators[task])
    parsed: dict[str, list[Any] | Range] = {}
    for name, entry in space.items():
        field = f"space.{name}"
        if name not in specs:
            raise ValidationError(
                f"Unknown hyperparameter {name!r}.", {"field": field, "allowed": sorted(specs)}
            )
        values = entry if isinstance(entry, list) else None
        if values is not None:
            if not values:
                raise ValidationError(f"{name}: an empty list.", {"field": field, "value": []})
            parsed[name] = values
            check = values
        else:
            parsed[name] = _range(name, entry, specs[name].describe()["type"])
            rng = parsed[name]
            assert isinstance(rng, Range)
            check = [int(rng.low), int(rng.high)] if rng.integer else [rng.low, rng.high]
        for value in check:
            _check_value(algorithm, task, fixed, name, value, data)
    return parsed


def _range(name: str, entry: Any, types: list[str]) -> Range:
    field = f"space.{name}"
    if not isinstance(entry, Mapping) or set(entry) - {"low", "high", "log", "type"}:
        raise ValidationError(
            f"{name}: give a list of values or {{'low', 'high', 'log', 'type'}}.",
            {"field": field},
        )
    if "integer" not in types and "number" not in types:
        raise ValidationError(
            f"{name} is categorical: give a list of values, not a range.",
            {"field": field, "value": dict(entry)},
        )
    low, high = entry.get("low"), entry.get("high")
    if not (_number(low) and _number(high)) or low >= high:
        raise ValidationError(
            f"{name}: a range needs numbers low < high.", {"field": field, "value": dict(entry)}
        )
    kind = entry.get("type", "int" if "number" not in types else "float")
    if kind not in ("int", "float") or (kind == "float" and "number" not in types):
        raise ValidationError(
            f"{name}: type must be 'int'{' or float' if 'number' in types else ''}.",
            {"field": field, "value": kind},
        )
    log = bool(entry.get("log", False))
    if log and low <= 0:
        raise ValidationError(
            f"{name}: a log range needs low > 0.", {"field": field, "value": dict(entry)}
        )
    return Range(float(low), float(high), log, kind == "int")


def _number(value: Any) -> TypeGuard[float]:
    """A finite int or float (not a bool)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return is_number and math.isfinite(value)


def _check_value(
    algorithm: Algorithm,
    task: str,
    fixed: Mapping[str, Any],
    name: str,
    value: Any,
    data: DataShape | None,
) -> None:
    try:
        validate_hyperparameters(algorithm, task, {**fixed, name: value}, data=data)
    except ValidationError as error:
        details = {**error.details, "field": f"space.{name}", "value": value}
        raise ValidationError(error.message, details) from None


def candidates(
    strategy: str,
    space: Mapping[str, list[Any] | Range],
    trials: int,
    random_state: int | None,
) -> list[dict[str, Any]]:
    """The parameter sets a search knows before it starts, in order: all of a ``grid`` or
    ``random`` search's, the first rung of a ``halving`` one, none of a ``bayesian`` one."""
    if strategy == "bayesian":
        return []
    if strategy == "grid":
        ranges = [name for name, entry in space.items() if isinstance(entry, Range)]
        if ranges:
            raise ValidationError(
                f"A grid needs lists of values; {ranges[0]} is a range.",
                {"field": f"space.{ranges[0]}"},
            )
        grid = ParameterGrid({name: list(values) for name, values in space.items()})  # type: ignore[arg-type]
        if len(grid) > min(trials, MAX_CANDIDATES):
            raise ValidationError(
                f"The grid has {len(grid)} combinations, more than the budget of {trials} trials.",
                {"field": "budget.trials", "value": trials, "grid_size": len(grid)},
            )
        return [plain_params(params) for params in grid]
    distributions = {
        name: entry.distribution() if isinstance(entry, Range) else list(entry)
        for name, entry in space.items()
    }
    if all(isinstance(entry, list) for entry in space.values()):  # sampled without repeats
        trials = min(trials, len(ParameterGrid(distributions)))
    sampler = ParameterSampler(distributions, n_iter=trials, random_state=random_state)
    return [plain_params(params) for params in sampler]


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-able values (numpy scalars as Python ones; floats rounded to 6 significant)."""
    out = {}
    for name, value in params.items():
        value = to_jsonable(value)
        out[name] = float(f"{value:.6g}") if isinstance(value, float) else value
    return dict(sorted(out.items()))
