"""Baseline of ``submit_throughput``: a Flask app whose only view publishes the training task.

Served by gunicorn with the API's own command line and ``gunicorn.conf.py`` (see
``bench.baselines.MinimalApp``), publishing with TensorFleet's Celery configuration
to the same Redis queue, so the difference to ``POST /api/v1/jobs`` is TensorFleet's
own work per request (validation, MongoDB reads and the job insert, metrics).
"""

from __future__ import annotations

from bson import ObjectId
from flask import Flask

from app.config import get_settings
from app.tasks.celery_app import TRAIN_TASK, create_celery

celery = create_celery(get_settings())
train_model = celery.signature(TRAIN_TASK)  # by name, as the API sends it: no task code here
app = Flask(__name__)


@app.post("/jobs")
def submit() -> tuple[dict[str, str], int]:
    """Publish one training task (apply_async) and answer 202 like the API.

    ``ignore_result`` as the API's submit does: otherwise Celery subscribes to the result
    channel of every task sent, work the API does not do.
    """
    job_id = str(ObjectId())
    train_model.apply_async(
        args=[job_id],
        task_id=job_id,
        queue=celery.settings.training_queue,
        ignore_result=True,
    )
    return {"job_id": job_id}, 202
