"""The Celery application and its reliability settings."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from celery import Celery
from kombu import Queue

from app.config import Settings

TRAINING_QUEUE = "training"
PREDICTION_QUEUE = "prediction"  # batch prediction jobs
SEARCH_QUEUE = "search"  # hyperparameter searches' trials
SUPERVISOR_QUEUE = "supervisor"  # the supervisor's ticks: served by the beat process itself
SUPERVISE_TASK = "tensorfleet.supervise"
# The wire name of ``app.tasks.train.train_job``; kept as first released, so messages
# already queued by an older API still find their task.
TRAIN_TASK = "tensorfleet.train_model"
PREDICT_TASK = "tensorfleet.predict_batch"  # ``app.tasks.predict.predict_job``
TRIAL_TASK = "tensorfleet.search_trial"  # ``app.tasks.search.trial_job``
EXPORT_TASK = "tensorfleet.export_onnx"  # ``app.tasks.export.export_model``: after training
TASK_OF_KIND = {"train": TRAIN_TASK, "predict": PREDICT_TASK, "trial": TRIAL_TASK}
WORKER_QUEUES = (TRAINING_QUEUE, PREDICTION_QUEUE, SEARCH_QUEUE)  # a fleet worker's default


def worker_queues(settings: Settings) -> tuple[str, ...]:
    """The queues of ``WORKER_QUEUES`` (the setting); ValueError naming an unknown one."""
    names = tuple(name.strip() for name in settings.worker_queues.split(",") if name.strip())
    unknown = [name for name in names if name not in WORKER_QUEUES]
    if unknown or not names:
        raise ValueError(
            f"WORKER_QUEUES={settings.worker_queues!r}: each must be one of"
            f" {', '.join(WORKER_QUEUES)} (unknown: {', '.join(unknown) or 'none given'})."
        )
    return names


class TensorFleetCelery(Celery):
    """A Celery app that carries the TensorFleet settings it was built from."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__("tensorfleet", **kwargs)
        self.settings = settings


def create_celery(settings: Settings) -> TensorFleetCelery:
    """A Celery app on ``settings.redis_url``: JSON only, at-least-once delivery."""
    celery = TensorFleetCelery(
        settings,
        broker=settings.redis_url,
        backend=settings.redis_url,
        include=[
            "app.tasks.train",
            "app.tasks.predict",
            "app.tasks.search",
            "app.tasks.export",
            "app.tasks.supervise",
        ],  # workers only: the API sends by name
    )
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # at-least-once: ack after the task ends
        task_acks_late=True,
        # a dead pool process: its job is requeued through MongoDB (app.tasks.train), and
        # the message acknowledged, so a live-lease redelivery never races the requeue
        task_reject_on_worker_lost=False,
        worker_lost_wait=1.0,  # notice a dead pool process within a second, not ten
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.job_soft_time_limit,
        task_time_limit=settings.job_hard_time_limit,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "socket_timeout": settings.redis_socket_timeout,
            "socket_connect_timeout": settings.service_timeout_ms / 1000,
        },
        result_expires=settings.result_expires,
        task_default_queue=TRAINING_QUEUE,
        # what a worker started without -Q consumes (-Q, as in compose, overrides it)
        task_queues=[Queue(name) for name in worker_queues(settings)],
        task_routes={
            TRAIN_TASK: {"queue": TRAINING_QUEUE},
            PREDICT_TASK: {"queue": PREDICTION_QUEUE},
            TRIAL_TASK: {"queue": SEARCH_QUEUE},
            EXPORT_TASK: {"queue": TRAINING_QUEUE},
            SUPERVISE_TASK: {"queue": SUPERVISOR_QUEUE},
        },
        beat_schedule={
            "supervise": {
                "task": SUPERVISE_TASK,
                "schedule": settings.supervisor_interval_seconds,
                # a tick nobody ran in time is replaced by the next one, never piled up
                "options": {
                    "queue": SUPERVISOR_QUEUE,
                    "expires": settings.supervisor_interval_seconds,
                },
            }
        },
        task_track_started=True,
        # task-sent events carry the registered name, not the readable `shadow` name, and
        # Flower would show that; it learns of a task from task-received instead
        task_send_sent_event=False,
        worker_send_task_events=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.service_timeout_ms / 1000,
        redis_socket_connect_timeout=settings.service_timeout_ms / 1000,
        redis_socket_timeout=settings.redis_socket_timeout,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return celery


def use_multiprocess_dir(settings: Settings) -> str:
    """Point prometheus-client at the settings' metrics directory (a private one if unset).

    A worker's pool processes and its metrics endpoint share that directory. Call it
    before ``prometheus_client`` is first imported: it picks its value store from the
    environment at import time.
    """
    path = settings.prometheus_multiproc_dir or tempfile.mkdtemp(prefix="tensorfleet-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
