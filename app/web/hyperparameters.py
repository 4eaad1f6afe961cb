"""The submit form's hyperparameter fields, built from the data ``GET /algorithms`` serves
(``app.ml.registry.describe_algorithm``): each with its default and its constraints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from app.ml.registry import describe_algorithm, get_algorithm, list_algorithms


@dataclass(frozen=True)
class ParamField:
    """One form field: a ``select`` for a closed set of values, else a ``text`` input."""

    name: str
    widget: str
    default: str
    constraints: tuple[str, ...]
    options: tuple[str, ...] = field(default=())
    bounds: tuple[str, ...] = field(default=())


@cache
def algorithm_tasks() -> dict[str, tuple[str, ...]]:
    """Every algorithm's name → the tasks it trains (classification, regression)."""
    return {alg.name: tuple(alg.tasks) for alg in list_algorithms()}


def shown(value: Any) -> str:
    """A default as the form shows it and ``app.web.params.form_value`` reads it back."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _field(name: str, spec: dict[str, Any]) -> ParamField:
    types, options = list(spec.get("type", [])), [str(o) for o in spec.get("options", [])]
    bounds = tuple(f"{key} {spec[key]}" for key in ("min", "max") if key in spec)
    closed = types == ["boolean"] or (types == ["string"] and options)
    if types == ["boolean"]:
        options = ["true", "false"]
    return ParamField(
        name=name,
        widget="select" if closed else "text",
        default=shown(spec.get("default")),
        constraints=tuple(spec.get("constraints", [])),
        options=tuple(options),
        bounds=bounds,
    )


@lru_cache(maxsize=64)
def fields_for(algorithm: str, task: str) -> tuple[ParamField, ...]:
    """The fields of ``algorithm``'s hyperparameters for ``task`` (empty if it does not
    train that task); ValidationError for an unknown algorithm."""
    described = describe_algorithm(get_algorithm(algorithm))
    if task not in described["tasks"]:
        return ()
    fields = []
    for name, spec in described["hyperparameters"].items():
        if task not in spec.get("tasks", described["tasks"]):
            continue
        fields.append(_field(name, spec.get("by_task", {}).get(task, spec)))
    return tuple(fields)
