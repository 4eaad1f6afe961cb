"""The Celery application and its reliability settings."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Queue

from app.config import SUPERVISOR_QUEUE, Settings

SUPERVISE_TASK = "tensorfleet.supervise"
# The wire name of ``app.tasks.train.train_job``; kept as first released, so messages
# already queued by an older API still find their task.
TRAIN_TASK = "tensorfleet.train_model"
PREDICT_TASK = "tensorfleet.predict_batch"  # ``app.tasks.predict.predict_job``
TRIAL_TASK = "tensorfleet.search_trial"  # ``app.tasks.search.trial_job``
EXPORT_TASK = "tensorfleet.export_onnx"  # ``app.tasks.export.export_model``: after training
TASK_OF_KIND = {"train": TRAIN_TASK, "predict": PREDICT_TASK, "trial": TRIAL_TASK}


@dataclass(frozen=True)
class FleetQueues:
    """The queue of each kind of work, named by the settings (``TRAINING_QUEUE``, …)."""

    training: str
    prediction: str
    search: str

    @classmethod
    def of(cls, settings: Settings) -> FleetQueues:
        """The queue names of ``settings``."""
        return cls(settings.training_queue, settings.prediction_queue, settings.search_queue)

    @property
    def all(self) -> tuple[str, ...]:
        """Every fleet queue (what a worker serves by default)."""
        return (self.training, self.prediction, self.search)

    def of_kind(self, kind: str) -> str:
        """The queue of a job of ``kind`` (``train``, ``predict`` or ``trial``)."""
        return {"train": self.training, "predict": self.prediction, "trial": self.search}[kind]


def worker_queues(settings: Settings) -> tuple[str, ...]:
    """The queues of ``WORKER_QUEUES`` (the setting; empty: all of them); ValueError naming
    an unknown one."""
    known = FleetQueues.of(settings).all
    names = tuple(name.strip() for name in settings.worker_queues.split(",") if name.strip())
    unknown = [name for name in names if name not in known]
    if unknown or (settings.worker_queues.strip() and not names):
        raise ValueError(
            f"WORKER_QUEUES={settings.worker_queues!r}: each must be one of"
            f" {', '.join(known)} (unknown: {', '.join(unknown) or 'none given'})."
        )
    return names or known


class TensorFleetCelery(Celery):
    """A Celery app that carries the TensorFleet settings it was built from."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__("tensorfleet", **kwargs)
        self.settings = settings


def create_celery(settings: Settings) -> TensorFleetCelery:
    """A Celery app on ``settings.redis_url``: JSON only, at-least-once delivery."""
    queues = FleetQueues.of(settings)
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
        task_default_queue=queues.training,
        # what a worker started without -Q consumes (-Q, as in compose, overrides it)
        task_queues=[Queue(name) for name in worker_queues(settings)],
        task_routes={
            TRAIN_TASK: {"queue": queues.training},
            PREDICT_TASK: {"queue": queues.prediction},
            TRIAL_TASK: {"queue": queues.search},
            EXPORT_TASK: {"queue": queues.training},
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
