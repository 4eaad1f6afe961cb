"""Hyperparameter specs derived from scikit-learn's own parameter constraints.

Names and defaults come from the estimator's ``__init__`` signature, constraints from its
``_parameter_constraints``. Only JSON-expressible alternatives are kept (ints/floats in
an interval, string options, booleans, None); callables, objects, arrays, dicts, hidden
constraints and deprecated options are dropped. A parameter left with no usable
alternative, or whose default is a hidden sentinel such as ``"deprecated"`` (a deprecated
parameter), is not exposed.

Every accepted number can be stored as is: floats are finite, ints fit in a signed
64-bit integer (BSON's widest), and an integral float becomes an int only then.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    _Booleans,
    _Constraint,
    _InstancesOf,
    _NoneConstraint,
    make_constraint,
    validate_parameter_constraints,
)

from app.errors import ValidationError

# String options that need inputs a CSV pipeline cannot give: kernel matrices, functions,
# ``metric_params`` (not exposed), or exactly two features (haversine).
UNSUPPORTED_OPTIONS = frozenset({"precomputed", "pyfunc", "mahalanobis", "seuclidean", "haversine"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what MongoDB (BSON) can store
_SCALAR_TYPES = (str, bool, int, float, Integral, Real)
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", Integral: "integer"}
_DROP = object()


@dataclass(frozen=True)
class ParamSpec:
    """A user-settable hyperparameter: sklearn default and JSON-able sklearn constraints."""

    name: str
    default: Any
    constraints: tuple[Any, ...]  # sklearn declarations, as in ``_parameter_constraints``

    def objects(self) -> list[_Constraint]:
        """The constraints as sklearn constraint objects."""
        return [make_constraint(c) for c in self.constraints]

    def texts(self) -> list[str]:
        """sklearn's human-readable text of each constraint."""
        return [constraint_text(c) for c in self.objects()]

    def describe(self) -> dict[str, Any]:
        """JSON-able description: type, default, constraints (and options if any)."""
        objects = self.objects()
        out: dict[str, Any] = {
            "type": list(dict.fromkeys(_json_type(c) for c in objects)),
            "default": self.default,
            "constraints": self.texts(),
        }
        options = sorted(o for c in objects if isinstance(c, Options) for o in c.options)
        if options:
            out["options"] = options
        return out

    def check(self, estimator_name: str, value: Any) -> Any:
        """``value`` if sklearn's constraints accept it (an int for an integral float where
        only an int is valid); ValidationError with sklearn's own message otherwise, or
        for a non-finite float or an int outside the signed 64-bit range."""
        details = {"field": f"hyperparameters.{self.name}", "constraints": self.texts()}
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"The {self.name!r} parameter must be a finite number.", details)
        if isinstance(value, bool) and not self._accepts_bool():
            raise ValidationError(self._sklearn_message(estimator_name, value), details)
        if isinstance(value, int) and not isinstance(value, bool):
            self._check_int64(estimator_name, value, details)
        try:
            self._validate(estimator_name, value)
        except InvalidParameterError as exc:
            if not self._accepts_as_int(estimator_name, value):
                raise ValidationError(str(exc), details) from None
            self._check_int64(estimator_name, value, details)
            return int(value)
        return value

    def _accepts_as_int(self, estimator_name: str, value: Any) -> bool:
        """Whether ``value`` is an integral float that sklearn accepts as an int."""
        if not (isinstance(value, float) and value.is_integer()):
            return False
        try:
            self._validate(estimator_name, int(value))
        except InvalidParameterError:
            return False
        return True

    def _check_int64(self, estimator_name: str, value: float, details: dict[str, Any]) -> None:
        """ValidationError if the integral ``value`` does not fit in a signed 64-bit int."""
        if INT64_MIN <= value <= INT64_MAX:
            return
        got = repr(value) if isinstance(value, float) else f"an int of {value.bit_length()} bits"
        raise ValidationError(
            f"The {self.name!r} parameter of {estimator_name} must be an int in the signed"
            f" 64-bit range [{INT64_MIN}, {INT64_MAX}]. Got {got} instead.",
            details,
        )

    def _validate(self, estimator_name: str, value: Any) -> None:
        """sklearn's own check of ``value`` against the (JSON-able) constraints."""
        validate_parameter_constraints(
            {self.name: list(self.constraints)}, {self.name: value}, estimator_name
        )

    def _accepts_bool(self) -> bool:
        """Whether a non-numeric constraint accepts booleans (``True`` is an int to Python)."""
        numeric = (Interval, _InstancesOf)
        return any(c.is_satisfied_by(True) for c in self.objects() if not isinstance(c, numeric))

    def _sklearn_message(self, estimator_name: str, value: Any) -> str:
        """The message sklearn's validation gives for a rejected ``value``."""
        texts = self.texts()
        allowed = texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"
        return (
            f"The {self.name!r} parameter of {estimator_name} must be {allowed}."
            f" Got {value!r} instead."
        )


def init_params(estimator: type) -> dict[str, Any]:
    """Constructor parameters of ``estimator`` with their defaults."""
    return {n: p.default for n, p in inspect.signature(estimator).parameters.items()}


def constraint_text(constraint: _Constraint) -> str:
    """sklearn's human-readable text of a constraint, with options sorted (stable output)."""
    if isinstance(constraint, Options):
        type_name = "str" if constraint.type is str else constraint.type.__name__
        return f"a {type_name} among {{{', '.join(repr(o) for o in sorted(constraint.options))}}}"
    return str(constraint)


def _json_type(constraint: _Constraint) -> str:
    """The JSON type a constraint accepts."""
    if isinstance(constraint, _NoneConstraint):
        return "null"
    if isinstance(constraint, _Booleans):
        return "boolean"
    kind = getattr(constraint, "type", None)
    return _JSON_TYPES.get(kind, "number") if isinstance(kind, type) else "number"


def _json_constraint(raw: Any) -> Any:
    """The JSON-expressible part of one sklearn constraint declaration, or ``_DROP``."""
    if isinstance(raw, Hidden):
        return _DROP
    constraint = make_constraint(raw)
    if isinstance(constraint, Options):
        kept = set(constraint.options) - set(constraint.deprecated) - UNSUPPORTED_OPTIONS
        if not kept or constraint.type not in _SCALAR_TYPES:
            return _DROP
        return StrOptions(kept) if constraint.type is str else Options(constraint.type, kept)
    if isinstance(constraint, (Interval, _Booleans, _NoneConstraint)):
        return raw
    if isinstance(constraint, _InstancesOf) and constraint.type in _SCALAR_TYPES:
        return raw
    return _DROP


@cache
def derive_specs(
    estimator: type, exclude: frozenset[str], not_none: frozenset[str] = frozenset()
) -> Mapping[str, ParamSpec]:
    """Hyperparameters of an sklearn estimator class (minus ``exclude``), from sklearn.

    ``not_none`` names params whose declared ``None`` the estimator cannot fit.
    """
    constraints = getattr(estimator, "_parameter_constraints", {})
    specs: dict[str, ParamSpec] = {}
    for name, default in init_params(estimator).items():
        if name in exclude or name not in constraints:
            continue
        kept = tuple(c for c in map(_json_constraint, constraints[name]) if c is not _DROP)
        if name in not_none:
            kept = tuple(c for c in kept if c is not None)
        objects = [make_constraint(c) for c in kept]
        usable = any(not isinstance(c, _NoneConstraint) for c in objects)
        if usable and any(c.is_satisfied_by(default) for c in objects):
            specs[name] = ParamSpec(name, default, kept)
    return MappingProxyType(specs)
