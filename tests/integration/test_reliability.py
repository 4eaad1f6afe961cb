"""Reliability on the real stack: health/readiness, a big artifact, a killed worker, Redis down."""

from __future__ import annotations

import hashlib
import math
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app import create_app
from app.storage.models import model_file_ids
from localstack import LocalStack, StackConfig
from localstack.process import pid_alive
from tests.integration.helpers import (
    api_client,
    assert_error,
    chunks_of,
    jobs_total,
    model_files,
    models_of,
    mongo,
    poll,
    submit,
    unique,
    upload_dataset,
    wait_job,
    wait_running,
)

GRIDFS_REPLY_LIMIT = 48 * 1024 * 1024  # the local server refuses larger replies
MIB = 1024 * 1024


def test_health_and_ready(api: Any) -> None:
    health = api.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "redis": "ok", "mongodb": "ok"}


def dead_url(scheme: str) -> str:
    """A URL on a local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}"


@pytest.mark.usefixtures("in_process_clients")
@pytest.mark.parametrize(
    ("mongo_down", "redis_down", "down"),
    [(True, False, ["mongodb"]), (False, True, ["redis"]), (True, True, ["redis", "mongodb"])],
)
def test_ready_is_503_naming_what_is_down(
    stack: LocalStack, mongo_down: bool, redis_down: bool, down: list[str]
) -> None:
    app = create_app(
        {
            "mongodb_url": dead_url("mongodb") if mongo_down else stack.mongodb_url,
            "mongodb_db": stack.config.mongodb_db,
            "redis_url": dead_url("redis") + "/0" if redis_down else stack.redis_url,
            "service_timeout_ms": 300,
            "tensorfleet_admin_key": stack.admin_key,
            "artifact_signing_key": stack.artifact_signing_key,
        }
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {stack.admin_key}"
    assert client.get("/health").status_code == 200  # alive, though not ready
    started = time.monotonic()
    response = client.get("/ready")
    assert time.monotonic() - started < 5  # bounded by service_timeout_ms, not hanging
    assert response.status_code == 503, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["details"]["down"] == down
    for service in down:
        assert service in error["message"]
    jobs = client.get("/api/v1/jobs")
    if mongo_down:  # MongoDB unreachable mid-request: 503, never a 500
        assert jobs.status_code == 503, jobs.get_data(as_text=True)
        assert jobs.get_json()["error"]["details"] == {"service": "mongodb"}
    else:
        assert jobs.status_code == 200


def synthetic_regression_csv(rows: int, features: int) -> bytes:
    """Noisy numeric features and target: fully grown trees that compress poorly."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(rows, features)).round(4)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(features)])
    frame["y"] = (x[:, 0] + rng.normal(size=rows)).round(4)
    return frame.to_csv(index=False).encode()


def test_a_big_model_round_trips_through_gridfs(api: Any, stack: LocalStack) -> None:
    # 150 unpruned trees on 16,000 noisy rows: ~54 MB compressed, over the 48 MB a single
    # reply of the local server may carry, so the download only works if it is windowed.
    # (About 8 s on 2 cores; max_features=1 keeps the fit cheap, not the trees small.)
    name = unique("big-model")
    response = upload_dataset(api, name, synthetic_regression_csv(20_000, 5), "y")
    assert response.status_code == 201, response.text
    assert response.json()["task"] == "regression"
    job = wait_job(
        api,
        submit(
            api,
            dataset=name,
            algorithm="random_forest",
            model_name=name,
            hyperparameters={"n_estimators": 150, "max_features": 1},
        )["job_id"],
        timeout=180,
    )
    assert job["status"] == "succeeded", job
    model = api.get(f"/api/v1/models/{job['result']['model_id']}").json()
    assert model["size_bytes"] > GRIDFS_REPLY_LIMIT, model["size_bytes"]

    digest, received = hashlib.sha256(), 0
    with api.get(f"/api/v1/models/{model['model_id']}/download", stream=True, timeout=120) as r:
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == model["size_bytes"]
        assert r.headers["ETag"] == f'"{model["sha256"]}"'
        for block in r.iter_content(MIB):
            digest.update(block)
            received += len(block)
    assert received == model["size_bytes"]
    assert digest.hexdigest() == model["sha256"]
    with mongo(stack) as db:
        file_id = model["file_id"]
        assert chunks_of(db, file_id) == list(range(math.ceil(model["size_bytes"] / MIB)))
        stored = {f["_id"] for f in model_files(db, job["job_id"])}
        assert stored == set(model_file_ids(db.models.find_one({"_id": model["model_id"]})))


def pool_children(main_pid: int) -> list[int]:
    """PIDs of the live children of a Celery worker's main process (its pool)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[1]) == main_pid:
            children.append(int(stat.parent.name))
    return children


def test_a_job_whose_worker_process_is_killed_is_redelivered_and_succeeds(
    api: Any, stack: LocalStack
) -> None:
    name = unique("killed")
    body = {
        "dataset": "digits",
        "algorithm": "gradient_boosting",
        "model_name": name,
        "hyperparameters": {"n_estimators": 100},
    }  # a ~6 s fit
    job = submit(api, **body)
    running = wait_running(api, job["job_id"], stage="fitting")
    worker_name = running["worker"].split("@")[0]
    main_pid = stack.children[worker_name].pid
    children = pool_children(main_pid)
    assert len(children) == 1, children  # -c 1: one pool process, running our job
    os.kill(children[0], signal.SIGKILL)

    ended = wait_job(api, job["job_id"], timeout=90)
    assert ended["status"] == "succeeded", ended
    assert ended["attempts"] == 2
    assert ended["error"] is None
    page = models_of(api, name=name)
    assert page["total"] == 1
    model = page["items"][0]
    assert (model["version"], model["job_id"]) == (1, job["job_id"])
    with mongo(stack) as db:
        stored = {f["_id"] for f in model_files(db, job["job_id"])}
        assert stored == set(model_file_ids(db.models.find_one({"_id": model["model_id"]})))
    # The worker survived and got a fresh pool process.
    assert pid_alive(main_pid)
    fresh = poll(lambda: pool_children(main_pid), timeout=30, what="a new pool process")
    assert fresh != children


def test_broker_down_submission_is_503_and_leaves_no_job(
    tmp_path: Path, make_stack_config: Callable[..., StackConfig]
) -> None:
    config = make_stack_config(tmp_path, services=("redis", "mongo", "api"))
    with LocalStack(config) as own, api_client(own.api_url) as api:
        before = jobs_total(api)
        redis_child = own.children["redis"]
        redis_child.signal_group(signal.SIGKILL)
        poll(lambda: redis_child.returncode is not None, timeout=10, what="Redis stopped")

        body = {"dataset": "iris", "algorithm": "random_forest", "model_name": unique("nobroker")}
        started = time.monotonic()
        response = api.post("/api/v1/jobs", json=body)
        assert time.monotonic() - started < 10  # a few quick publish retries, no long hang
        error = assert_error(response, 503, "service_unavailable")
        assert error["details"] == {"service": "redis"}
        assert jobs_total(api) == before
        listed = api.get("/api/v1/jobs", params={"model_name": body["model_name"]}).json()
        assert listed["total"] == 0
        ready = assert_error(api.get("/ready"), 503, "service_unavailable")
        assert ready["details"]["down"] == ["redis"]
