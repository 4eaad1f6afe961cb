"""Flower in the local stack: behind basic auth, on loopback, showing our training tasks.

A training task is published with ``shadow="train <model> (<algorithm> on <dataset>)"`` so
Flower shows a readable name, and with the job id as its only argument, so nothing secret
(credentials, connection URLs) reaches Flower or the broker.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from localstack import LocalStack
from tests.integration.helpers import api_client, listen_addresses, submit, unique, wait_job

FLOWER_TIMEOUT = 30.0  # until Flower has seen a task's events


@pytest.fixture(scope="module")
def flower(stack: LocalStack) -> Iterator[requests.Session]:
    """A session authenticated against Flower."""
    user, _, password = stack.flower_auth.partition(":")
    with requests.Session() as session:
        session.auth = (user, password)
        yield session


@pytest.fixture(scope="module")
def trained_job(stack: LocalStack) -> dict[str, Any]:
    """A training job of ours, finished."""
    with api_client(stack.api_url) as api:
        job = submit(api, dataset="wine", algorithm="random_forest", model_name=unique("flower"))
        done = wait_job(api, job["job_id"])
    assert done["status"] == "succeeded", done
    return done


def flower_task(
    stack: LocalStack, flower: requests.Session, job_id: str, state: str = "SUCCESS"
) -> dict[str, Any]:
    """Our task as ``GET /api/tasks`` lists it, once Flower has seen it end in ``state``."""
    deadline = time.monotonic() + FLOWER_TIMEOUT
    while True:
        response = flower.get(stack.flower_url + "/api/tasks", timeout=10)
        assert response.status_code == 200, response.text
        task = response.json().get(job_id)
        if task is not None and task["state"] == state:
            return task
        assert time.monotonic() < deadline, f"Flower has not seen {job_id} in {state}: {task}"
        time.sleep(0.3)


def test_flower_requires_basic_auth(stack: LocalStack, flower: requests.Session) -> None:
    user, _, password = stack.flower_auth.partition(":")
    for path in ("/", "/tasks", "/api/tasks", "/api/workers"):
        anonymous = requests.get(stack.flower_url + path, timeout=10)
        assert anonymous.status_code == 401, path
        if not path.startswith("/api/"):  # the pages ask the browser for a login
            challenge = anonymous.headers.get("WWW-Authenticate", "")
            assert challenge.lower().startswith("basic"), path
        wrong = requests.get(stack.flower_url + path, auth=(user, password + "x"), timeout=10)
        assert wrong.status_code == 401, path
        assert password not in anonymous.text and password not in wrong.text
    for path in ("/", "/tasks", "/workers"):
        assert flower.get(stack.flower_url + path, timeout=10).status_code == 200, path


def test_flower_listens_on_loopback_only(stack: LocalStack) -> None:
    port = urlsplit(stack.flower_url).port
    assert port is not None
    assert listen_addresses(port) == {"127.0.0.1"}


def test_flower_lists_our_task_with_only_the_job_id_as_argument(
    stack: LocalStack, flower: requests.Session, trained_job: dict[str, Any]
) -> None:
    job_id = trained_job["job_id"]
    task = flower_task(stack, flower, job_id)
    assert task["uuid"] == job_id
    assert task["worker"].startswith("worker"), task
    assert ast.literal_eval(task["args"]) == [job_id]
    assert ast.literal_eval(task["kwargs"]) == {}
    _, _, password = stack.flower_auth.partition(":")
    shown = repr(task)
    for secret in (password, stack.redis_url, stack.mongodb_url, "://"):
        assert secret not in shown, f"{secret!r} visible in Flower"


def test_flower_shows_the_readable_task_name(
    stack: LocalStack, flower: requests.Session, trained_job: dict[str, Any]
) -> None:
    job = trained_job
    task = flower_task(stack, flower, job["job_id"])
    readable = f"train {job['model_name']} ({job['algorithm']} on {job['dataset']})"
    assert task["name"] == readable


def test_flower_shows_a_failed_job_as_failure(stack: LocalStack, flower: requests.Session) -> None:
    with api_client(stack.api_url) as api:
        # iris with 1% test rows: 2 test rows for 3 classes, so the stratified split fails
        job = submit(api, dataset="iris", algorithm="knn", test_size=0.01)
        done = wait_job(api, job["job_id"])
    assert done["status"] == "failed" and done["error"]["type"] == "data", done
    task = flower_task(stack, flower, job["job_id"], state="FAILURE")
    assert "data:" in task["exception"]
