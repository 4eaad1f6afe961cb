"""Queues per kind of work on the local stack: two worker pools, one serving ``training``,
one ``search`` and ``prediction`` (each given its queues by ``WORKER_QUEUES``, without
``-Q``). A big training job cannot delay a search: while the training pool is busy, the
search's trials run on the other pool, and a second training job waits for its own pool
even though the other pool is idle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localstack import LocalStack, StackConfig
from tests.integration.helpers import SLOW_JOB, api_client, cancel_quietly, get_job, poll

WAIT = 90  # seconds, for a job or a search to get where the test expects


@pytest.fixture(scope="module")
def pools(
    tmp_path_factory: pytest.TempPathFactory, make_stack_config: Callable[..., StackConfig]
) -> Iterator[LocalStack]:
    """Redis, MongoDB, the API and beat, worker0 on ``training``, worker1 on the others."""
    config = make_stack_config(
        tmp_path_factory.mktemp("pools"),
        services=("redis", "mongo", "api", "workers", "beat"),
        worker_pools=("training", "search,prediction"),
    )
    with LocalStack(config) as stack:
        yield stack


@pytest.fixture
def api(pools: LocalStack) -> Iterator[Any]:
    with api_client(pools) as client:
        yield client


def test_each_pool_serves_only_its_queues(pools: LocalStack, api: Any) -> None:
    assert "-Q" not in pools.children["worker0"].popen.args  # the setting, not the argv
    slow = api.post("/api/v1/jobs", json=SLOW_JOB).json()
    waiting: dict[str, Any] = {}
    try:
        poll(lambda: get_job(api, slow["job_id"])["status"] == "running", WAIT, what="slow job")
        assert get_job(api, slow["job_id"])["worker"].startswith("worker0@")
        waiting = api.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"}).json()
        space, budget = {"n_neighbors": [1, 5]}, {"trials": 2, "parallelism": 1}
        body = {"dataset": "iris", "algorithm": "knn", "strategy": "grid", "cv": 3,
                "space": space, "budget": budget}  # fmt: skip
        search = api.post("/api/v1/searches", json=body).json()

        def trials_done() -> list[dict[str, Any]] | None:
            params = {"search_id": search["search_id"], "kind": "trial"}
            page = api.get("/api/v1/jobs", params=params).json()["items"]
            ended = len(page) == 2 and all(t["status"] == "succeeded" for t in page)
            return page if ended else None

        trials = poll(trials_done, WAIT, what="the search's trials, while the training pool works")
        assert {t["worker"].split("@")[0] for t in trials} == {"worker1"}
        # the search pool is idle now, and still the training job waits for its own pool
        assert get_job(api, waiting["job_id"])["status"] == "queued"
        assert get_job(api, slow["job_id"])["status"] == "running"
    finally:
        cancel_quietly(api, [slow["job_id"]])
    done = poll(
        lambda: (j := get_job(api, waiting["job_id"]))["status"] == "succeeded" and j,
        WAIT,
        what="the queued training job, once its pool is free",
    )
    assert done["worker"].startswith("worker0@")
