"""Statistics: the registry and the job queue at a glance."""

from __future__ import annotations

from flask import Blueprint
from spectree import Response as Spec

from app.api import context
from app.api.schemas import ErrorBody
from app.api.spec import scope, spec
from app.services.statistics import fleet_statistics

bp = Blueprint("statistics", __name__)


@bp.get("")
@spec.validate(resp=Spec(HTTP_503=ErrorBody), tags=["statistics"], security=scope("read"))
def get_statistics() -> dict:
    """Models by algorithm and dataset, jobs by status, best and mean score per algorithm.

    `GET /api/v1/statistics` → `{"models": {"total": 3, "by_algorithm": {"knn": 3},
    "by_dataset": {"iris": 3}, "scores": {"classification": {"knn": {"metric":
    "test_accuracy", "count": 3, "best": 0.97, "mean": 0.95}}, "regression": {}}},
    "jobs": {"by_status": {"queued": 0, "running": 0, "succeeded": 3, ...}}}`
    """
    return fleet_statistics(context.db())
