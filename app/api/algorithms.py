"""Algorithms: what can be trained, with hyperparameters derived from scikit-learn."""

from __future__ import annotations

from flask import Blueprint
from spectree import Response as Spec

from app.api.schemas import ErrorBody
from app.api.spec import scope, spec
from app.ml.registry import describe_algorithm, get_algorithm, list_algorithms

bp = Blueprint("algorithms", __name__)


@bp.get("")
@spec.validate(tags=["algorithms"], security=scope("read"))
def list_algorithms_view() -> dict:
    """Every algorithm: tasks, estimator classes, hyperparameters with types, defaults, limits."""
    return {"items": [describe_algorithm(algorithm) for algorithm in list_algorithms()]}


@bp.get("/<name>")
@spec.validate(resp=Spec(HTTP_400=ErrorBody), tags=["algorithms"], security=scope("read"))
def get_algorithm_view(name: str) -> dict:
    """One algorithm's description."""
    return describe_algorithm(get_algorithm(name))
