"""The registry at a glance: models by algorithm and dataset, scores, jobs by status."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from app.ml.metrics import HEADLINE_METRIC
from app.storage.jobs import JobRepository
from app.storage.models import ModelRepository


def fleet_statistics(db: Database) -> dict[str, Any]:
    """Model counts, best and mean headline score per task and algorithm, jobs by status."""
    models = ModelRepository(db)
    scores = {
        task: {
            algorithm: {"metric": metric, **summary}
            for algorithm, summary in models.score_summary(task).items()
        }
        for task, metric in HEADLINE_METRIC.items()
    }
    return {
        "models": {
            "total": models.count(),
            "by_algorithm": models.count_by("algorithm"),
            "by_dataset": models.count_by("dataset_name"),
            "scores": scores,
        },
        "jobs": {"by_status": JobRepository(db).count_by_status()},
    }
