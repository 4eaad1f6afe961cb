"""Compare 2-5 model versions side by side: a metrics table and a grouped bar chart."""

from __future__ import annotations

from typing import Any

from flask import render_template

from app.api import context
from app.storage.models import ModelRepository
from app.web.blueprint import bp
from app.web.charts import bar_chart
from app.web.models import scalar_metrics
from app.web.params import id_list

MIN_MODELS, MAX_MODELS = 2, 5
FIELDS = dict.fromkeys(
    [
        "name",
        "version",
        "algorithm",
        "task",
        "dataset_name",
        "dataset_version",
        "score",
        "metrics",
    ],
    1,
)
CHARTED = (  # scores on one scale (up to 1): rmse and mae stay in the table
    "test_accuracy",
    "train_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "r2",
)


@bp.get("/compare")
def compare() -> tuple[str, int]:
    """``?ids=<id>,<id>``: the models in the order given; 400 for fewer than 2 or more than
    5 ids, 404 naming the ids that are no model."""
    ids = id_list()
    if not MIN_MODELS <= len(ids) <= MAX_MODELS:
        message = f"Pick {MIN_MODELS} to {MAX_MODELS} models to compare; got {len(ids)}."
        return render_template("compare.html", ids=ids, error=message), 400
    found = {m["_id"]: m for m in ModelRepository(context.db()).find_many(ids, FIELDS)}
    unknown = [model_id for model_id in ids if model_id not in found]
    if unknown:
        message = f"No model with id {', '.join(unknown)}."
        return render_template("compare.html", ids=ids, error=message), 404
    models = [found[model_id] for model_id in ids]
    table = _table(models)
    return render_template(
        "compare.html", ids=ids, error=None, models=models, table=table, chart=_chart(models, table)
    ), 200


def _table(models: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Metric → its value per model (None where a model lacks it), in first-seen order."""
    per_model = [scalar_metrics(model) for model in models]
    names = list(dict.fromkeys(name for metrics in per_model for name in metrics))
    return {name: [metrics.get(name) for metrics in per_model] for name in names}


def _chart(models: list[dict[str, Any]], table: dict[str, list[Any]]) -> Any:
    labels = [name for name in CHARTED if name in table]
    if not labels:
        return None
    series = {
        f"{model['name']} v{model['version']}": [table[name][i] for name in labels]
        for i, model in enumerate(models)
    }
    return bar_chart(labels, series, title="Metrics", y_label="score")
