"""Every kind of job has a task a worker registers, on the queue a worker serves."""

from __future__ import annotations

import pytest

from app.tasks.celery_app import TASK_OF_KIND, WORKER_QUEUES, create_celery


def test_a_worker_registers_the_task_of_every_job_kind(settings) -> None:
    celery = create_celery(settings)
    celery.loader.import_default_modules()  # what ``celery worker`` imports (``include``)
    assert set(TASK_OF_KIND.values()) <= set(celery.tasks)
    routes = celery.conf.task_routes
    assert {routes[task]["queue"] for task in TASK_OF_KIND.values()} == set(WORKER_QUEUES)


def test_a_worker_without_q_consumes_the_queues_of_its_setting(settings) -> None:
    pool = create_celery(settings.model_copy(update={"worker_queues": "search, prediction"}))
    assert sorted(pool.amqp.queues.consume_from) == ["prediction", "search"]
    assert sorted(create_celery(settings).amqp.queues.consume_from) == sorted(WORKER_QUEUES)
    for wrong in ("serch", "", " , "):
        with pytest.raises(ValueError, match="WORKER_QUEUES"):
            create_celery(settings.model_copy(update={"worker_queues": wrong}))
