"""Every kind of job has a task a worker registers, on the queue a worker serves."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.tasks.celery_app import TASK_OF_KIND, FleetQueues, create_celery

FLEET = ("training", "prediction", "search")  # the default names


def test_a_worker_registers_the_task_of_every_job_kind(settings) -> None:
    celery = create_celery(settings)
    celery.loader.import_default_modules()  # what ``celery worker`` imports (``include``)
    assert set(TASK_OF_KIND.values()) <= set(celery.tasks)
    routes = celery.conf.task_routes
    assert {routes[task]["queue"] for task in TASK_OF_KIND.values()} == set(FLEET)


def test_a_worker_without_q_consumes_the_queues_of_its_setting(settings) -> None:
    pool = create_celery(settings.model_copy(update={"worker_queues": "search, prediction"}))
    assert sorted(pool.amqp.queues.consume_from) == ["prediction", "search"]
    assert sorted(create_celery(settings).amqp.queues.consume_from) == sorted(FLEET)
    for wrong in ("serch", " , ", "training,tf-training"):
        with pytest.raises(ValueError, match="WORKER_QUEUES"):
            create_celery(settings.model_copy(update={"worker_queues": wrong}))


def test_queue_names_come_from_the_settings(settings) -> None:
    named = settings.model_copy(
        update={"training_queue": "tf-train", "search_queue": "tf-hpo", "worker_queues": ""}
    )
    celery = create_celery(named)
    routes = celery.conf.task_routes
    assert {kind: routes[TASK_OF_KIND[kind]]["queue"] for kind in TASK_OF_KIND} == {
        "train": "tf-train",
        "predict": "prediction",
        "trial": "tf-hpo",
    }
    assert celery.conf.task_default_queue == "tf-train"
    assert sorted(celery.amqp.queues.consume_from) == ["prediction", "tf-hpo", "tf-train"]
    pool = create_celery(named.model_copy(update={"worker_queues": "tf-hpo"}))
    assert list(pool.amqp.queues.consume_from) == ["tf-hpo"]
    with pytest.raises(ValueError, match="WORKER_QUEUES"):  # the old name is no queue now
        create_celery(named.model_copy(update={"worker_queues": "training"}))
    assert FleetQueues.of(named).of_kind("trial") == "tf-hpo"


@pytest.mark.parametrize(
    "names",
    [
        {"training_queue": "work", "search_queue": "work"},
        {"prediction_queue": "supervisor"},
        {"search_queue": "a,b"},
        {"training_queue": ""},
    ],
)
def test_queue_names_are_distinct_and_routable(names) -> None:
    with pytest.raises(ValueError, match=r"QUEUE|pattern"):
        Settings(**names)
