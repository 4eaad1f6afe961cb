"""The fault matrix on the real local stack: kills, duplicate deliveries, shutdowns, outages.

Every scenario runs on a stack with short leases and a fast supervisor (seconds, not
minutes), and ends by running the operators' integrity check, ``python -m app.fsck``:
every accepted job ends in exactly one terminal state, exactly one model per succeeded
job, none for the others, no orphan files. The time each recovery took is printed and
kept as a test property (``recovery_s``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from localstack import LocalStack, StackConfig
from localstack.config import PROJECT_DIR
from tests.integration.helpers import (
    FINISHED,
    api_client,
    assert_error,
    get_job,
    mongo,
    poll,
    submit,
    unique,
    upload_dataset,
    wait_job,
    wait_running,
)
from tests.integration.test_reliability import pool_children, synthetic_regression_csv

LEASE = 6.0  # longer than Celery takes to report a dead pool process (~4 s)
FAULT_ENV = {
    "LEASE_SECONDS": f"{LEASE:g}",
    "HEARTBEAT_SECONDS": "0.5",
    "SUPERVISOR_INTERVAL_SECONDS": "1",
    "REPUBLISH_AFTER_SECONDS": "3",
    "REDIS_SOCKET_TIMEOUT": "2",
    "MONGODB_SOCKET_TIMEOUT_MS": "2000",
    "SERVICE_TIMEOUT_MS": "1500",
    "JOB_MEMORY_LIMIT_MB": "150",
    "TRANSIENT_RETRIES": "40",
}
GRACE = 4.0  # WORKER_SHUTDOWN_GRACE_SECONDS of the fault stacks' workers


def job_body(seconds: str, **extra: Any) -> dict[str, Any]:
    """A digits gradient-boosting job: ``short`` (~1 s fit), ``medium`` (~5 s), ``long`` (~9 s)."""
    trees = {"short": 15, "medium": 80, "long": 150}[seconds]
    return {
        "dataset": "digits",
        "algorithm": "gradient_boosting",
        "model_name": unique(f"fault-{seconds}"),
        "hyperparameters": {"n_estimators": trees},
        **extra,
    }


@pytest.fixture(scope="module")
def faults(
    tmp_path_factory: pytest.TempPathFactory, make_stack_config: Callable[..., StackConfig]
) -> Iterator[LocalStack]:
    """Redis, MongoDB, the API, 2 workers and beat, with short leases and timeouts."""
    config = make_stack_config(tmp_path_factory.mktemp("faults"), env=FAULT_ENV, worker_grace=GRACE)
    with LocalStack(config) as stack:
        yield stack


@pytest.fixture
def api(faults: LocalStack) -> Iterator[Any]:
    with api_client(faults) as client:
        yield client


def fsck(stack: LocalStack, timeout: float = 30.0) -> dict[str, Any]:
    """Run ``python -m app.fsck --json`` until it is clean (the supervisor may still be
    collecting a dead run's upload); fail with its last report after ``timeout``."""
    env = {
        **os.environ,
        "MONGODB_URL": stack.mongodb_url,
        "MONGODB_DB": stack.config.mongodb_db,
        "REDIS_URL": stack.redis_url,
        "ARTIFACT_SIGNING_KEY": stack.artifact_signing_key,
    }
    deadline, report = time.monotonic() + timeout, {}
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "app.fsck", "--json"],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        report = json.loads(done.stdout) if done.stdout else {"stderr": done.stderr}
        if done.returncode == 0:
            return report
        if time.monotonic() >= deadline:
            raise AssertionError(f"fsck not clean after {timeout:g}s: {report}")
        time.sleep(1)


def assert_one_model(api: Any, job: dict[str, Any]) -> None:
    """A succeeded job has exactly one model, the one it names."""
    assert job["status"] == "succeeded", job
    models = api.get("/api/v1/models", params={"name": job["model_name"]}).json()
    assert [m["model_id"] for m in models["items"]] == [job["result"]["model_id"]]


def recovered(record_property: Callable[[str, Any], None], started: float, what: str) -> float:
    seconds = round(time.monotonic() - started, 2)
    record_property("recovery_s", seconds)
    print(f"{what}: recovered in {seconds} s")
    return seconds


def worker_of(stack: LocalStack, job: dict[str, Any]) -> str:
    return str(job["worker"]).split("@")[0]


def restart_workers(stack: LocalStack) -> None:
    """Start again any worker a scenario stopped (so the next one has two)."""
    for name in ("worker0", "worker1"):
        if stack.children[name].returncode is not None:
            worker = stack.restart(name)
            poll(lambda w=worker: " ready." in w.log_since_start(), 60, what=f"{name} ready")


# -- processes dying --------------------------------------------------------------------------


def test_pool_process_killed_mid_fit_is_requeued_at_once(faults, api, record_property) -> None:
    job = submit(api, **job_body("medium"))
    running = wait_running(api, job["job_id"], stage="fitting", timeout=60)
    worker = faults.children[worker_of(faults, running)]
    [child] = pool_children(worker.pid)
    started = time.monotonic()
    os.kill(child, signal.SIGKILL)
    again = poll(
        lambda: (j := get_job(api, job["job_id"]))["attempts"] == 2 and j, 30, what="rerun"
    )
    recovered(record_property, started, "pool child SIGKILL")
    # requeued by the worker as soon as Celery reported the process lost, not by the lease
    notice = f"job {job['job_id']}: its process died on"
    assert poll(lambda: notice in worker.log_since_start(), 10, what="the requeue notice")
    assert again["status"] in ("running", "succeeded")
    assert_one_model(api, wait_job(api, job["job_id"], timeout=120))
    fsck(faults)


def test_whole_worker_killed_mid_fit_the_other_takes_over(faults, api, record_property) -> None:
    job = submit(api, **job_body("medium"))
    running = wait_running(api, job["job_id"], stage="fitting", timeout=60)
    victim = worker_of(faults, running)
    started = time.monotonic()
    faults.children[victim].signal_group(signal.SIGKILL)  # main process and pool
    rerun = poll(
        lambda: (j := get_job(api, job["job_id"]))["attempts"] == 2 and j, 60, what="takeover"
    )
    assert worker_of(faults, rerun) != victim
    assert recovered(record_property, started, "whole worker SIGKILL") < LEASE + 5
    assert_one_model(api, wait_job(api, job["job_id"], timeout=120))
    fsck(faults)
    restart_workers(faults)


@pytest.mark.parametrize(
    ("strategy", "space"),
    [("grid", {"n_estimators": [50, 51, 52, 53]}),
     ("bayesian", {"n_estimators": {"low": 50, "high": 56, "type": "int"}})],
)  # fmt: skip
def test_a_worker_killed_mid_search_loses_only_its_trial(
    faults, api, record_property, strategy: str, space: dict[str, Any]
) -> None:
    response = api.post("/api/v1/searches", json={
        "dataset": "digits", "algorithm": "gradient_boosting", "strategy": strategy,
        "model_name": unique("fault-search"), "space": space,
        "cv": 2, "budget": {"trials": 4, "parallelism": 2},
    })  # fmt: skip
    assert response.status_code == 202, response.text
    search_id = response.json()["search_id"]

    def a_fitting_trial() -> dict[str, Any] | None:
        jobs = api.get("/api/v1/jobs", params={"search_id": search_id, "status": "running"})
        fitting = [j for j in jobs.json()["items"] if j["progress"]["stage"] == "fitting"]
        return fitting[0] if fitting else None

    trial = poll(a_fitting_trial, 60, what="a trial fitting")
    victim = worker_of(faults, trial)
    started = time.monotonic()
    faults.children[victim].signal_group(signal.SIGKILL)  # main process and pool
    poll(lambda: get_job(api, trial["job_id"])["attempts"] >= 2, 60,
         what="the killed trial retried")  # fmt: skip
    recovered(record_property, started, f"worker SIGKILL mid-search ({strategy})")

    def ended() -> dict[str, Any] | None:
        s = api.get(f"/api/v1/searches/{search_id}").json()
        return s if s["status"] != "running" else None

    done = poll(ended, 120, what="the search to end", interval=0.5)
    trials = api.get("/api/v1/jobs", params={"search_id": search_id, "kind": "trial"}).json()
    seen = [(j["job_id"], j["status"], j["attempts"], j.get("error")) for j in trials["items"]]
    assert done["status"] == "succeeded", (done, seen)
    assert done["progress"]["succeeded"] == 4 and done["progress"]["failed"] == 0, (
        done["progress"], seen,
    )  # fmt: skip
    assert trials["total"] == 4  # exactly the budget: none skipped, none doubled
    attempts = {j["job_id"]: j["attempts"] for j in trials["items"]}
    # only the killed trial was claimed again (on a loaded machine a retry may itself be
    # redelivered once more; the fencing makes one of them count)
    assert attempts.pop(trial["job_id"]) >= 2 and set(attempts.values()) == {1}, attempts
    assert done["best"]["model_id"] is not None
    restart_workers(faults)
    fsck(faults)


def test_a_duplicate_delivery_of_a_running_job_does_not_train_it_twice(faults, api) -> None:
    job = submit(api, **job_body("medium"))
    wait_running(api, job["job_id"], stage="fitting", timeout=60)
    celery = Celery(broker=faults.redis_url)
    celery.conf.update(task_serializer="json", accept_content=["json"])
    with celery.connection_for_write() as connection:
        celery.send_task(
            "tensorfleet.train_model", args=[job["job_id"]], task_id=job["job_id"],
            queue="training", connection=connection, ignore_result=True,
        )  # fmt: skip
    ended = wait_job(api, job["job_id"], timeout=120)
    assert ended["attempts"] == 1  # the second delivery saw a live lease and stood back
    assert_one_model(api, ended)
    fsck(faults)


# -- graceful shutdown -------------------------------------------------------------------------


def test_sigterm_lets_a_job_that_fits_in_the_grace_period_finish(faults, api) -> None:
    job = submit(api, **job_body("short"))
    running = wait_running(api, job["job_id"], stage="fitting", timeout=60)
    worker = faults.children[worker_of(faults, running)]
    worker.popen.send_signal(signal.SIGTERM)
    ended = wait_job(api, job["job_id"], timeout=60)
    assert ended["attempts"] == 1 and ended.get("handed_back", 0) == 0
    assert_one_model(api, ended)
    assert worker.popen.wait(timeout=GRACE + 20) == 0  # then the worker exited cleanly
    fsck(faults)
    restart_workers(faults)


def test_sigterm_hands_a_longer_job_back_at_the_end_of_the_grace(
    faults, api, record_property
) -> None:
    job = submit(api, **job_body("long"))
    running = wait_running(api, job["job_id"], stage="fitting", timeout=60)
    victim = worker_of(faults, running)
    started = time.monotonic()
    faults.children[victim].popen.send_signal(signal.SIGTERM)
    rerun = poll(
        lambda: (j := get_job(api, job["job_id"]))["attempts"] == 2 and j, GRACE + 30,
        what="the job handed back and started again",
    )  # fmt: skip
    assert worker_of(faults, rerun) != victim
    took = recovered(record_property, started, "SIGTERM hand-back")
    assert GRACE - 0.5 < took < GRACE + LEASE  # the grace, then at once: no lease wait
    ended = wait_job(api, job["job_id"], timeout=120)
    assert ended["handed_back"] == 1
    assert_one_model(api, ended)
    assert faults.children[victim].popen.wait(timeout=30) in (0, 1)
    fsck(faults)
    restart_workers(faults)


def test_stopping_the_whole_stack_mid_job_then_starting_it_again(
    tmp_path: Path, make_stack_config: Callable[..., StackConfig], record_property
) -> None:
    config = make_stack_config(
        tmp_path, env=FAULT_ENV, workers=1, worker_grace=1.0, services=(
            "redis", "mongo", "api", "workers", "beat",
        ),
    )  # fmt: skip
    with LocalStack(config) as first, api_client(first) as api:
        job = submit(api, **job_body("long"))
        wait_running(api, job["job_id"], stage="fitting", timeout=60)
    # stopped mid-fit (Ctrl-C does the same); Redis kept no data: its queue is gone
    started = time.monotonic()
    with LocalStack(config) as second, api_client(second) as api:
        rerun = poll(
            lambda: get_job(api, job["job_id"])["attempts"] >= 2, 60, what="job started again"
        )
        assert rerun
        recovered(record_property, started, "stack restart (incl. start-up)")
        ended = wait_job(api, job["job_id"], timeout=120)
        assert_one_model(api, ended)
        fsck(second)


# -- Redis and MongoDB outages -----------------------------------------------------------------


@pytest.mark.parametrize("persistent", [True, False], ids=["aof", "no-persistence"])
def test_redis_killed_and_restarted_with_20_jobs_in_flight(
    tmp_path: Path, make_stack_config: Callable[..., StackConfig], persistent: bool,
    record_property: Callable[[str, Any], None],
) -> None:  # fmt: skip
    config = make_stack_config(
        tmp_path, env=FAULT_ENV, redis_appendonly=persistent,
        services=("redis", "mongo", "api", "workers", "beat"),
    )  # fmt: skip
    with LocalStack(config) as stack, api_client(stack) as api:
        bodies = [job_body("short") for _ in range(4)] + [
            {"dataset": "iris", "algorithm": "knn", "model_name": unique("redis-kill")}
            for _ in range(16)
        ]
        jobs = [submit(api, **body)["job_id"] for body in bodies]
        poll(lambda: get_job(api, jobs[0])["status"] != "queued", 30, what="work under way")
        if persistent:
            with mongo(stack) as db:  # let the append-only file catch up
                time.sleep(1.2)
                assert db is not None
        stack.children["redis"].signal_group(signal.SIGKILL)
        stack.children["redis"].popen.wait(timeout=10)
        started = time.monotonic()
        stack.restart("redis")
        ended = [wait_job(api, job_id, timeout=120) for job_id in jobs]
        recovered(record_property, started, f"Redis restart ({'aof' if persistent else 'none'})")
        for job in ended:
            assert job["status"] in FINISHED
            assert_one_model(api, job)
        fsck(stack)


def test_mongodb_down_at_submit_and_poll_is_503_and_a_job_survives_it(
    faults: LocalStack, api: Any, record_property: Callable[[str, Any], None]
) -> None:
    job = submit(api, **job_body("medium"))
    wait_running(api, job["job_id"], stage="fitting", timeout=60)
    mongo_child = faults.children["mongo"]
    mongo_child.signal_group(signal.SIGKILL)
    mongo_child.popen.wait(timeout=10)
    try:
        refused = api.post("/api/v1/jobs", json=job_body("short"), timeout=20)
        assert assert_error(refused, 503, "service_unavailable")["details"] == {
            "service": "mongodb"
        }
        assert_error(api.get(f"/api/v1/jobs/{job['job_id']}", timeout=20), 503)
        time.sleep(LEASE)  # mid-job: the run cannot write; its task will retry later
    finally:
        started = time.monotonic()
        faults.restart("mongo")
    ended = wait_job(api, job["job_id"], timeout=180)
    recovered(record_property, started, "MongoDB restart mid-job")
    assert_one_model(api, ended)
    fsck(faults, timeout=60)


@pytest.mark.parametrize("service", ["redis", "mongo"])
def test_a_hung_dependency_gives_503_within_seconds_and_waits_stay_bounded(
    faults: LocalStack, api: Any, service: str
) -> None:
    job = submit(api, dataset="iris", algorithm="knn", model_name=unique("hung"))
    wait_job(api, job["job_id"])
    child = faults.children[service]
    child.signal_group(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(4) as pool:
            started = time.monotonic()
            submits = list(
                pool.map(lambda _: api.post("/api/v1/jobs", json=job_body("short"), timeout=30),
                         range(3))
            )  # fmt: skip
            ready = api.get("/ready", timeout=30)
            waited = api.get(f"/api/v1/jobs/{job['job_id']}", params={"wait": 5}, timeout=30)
            took = time.monotonic() - started
        assert all(r.status_code == 503 for r in submits), [r.text for r in submits]
        assert ready.status_code == 503
        expected = ["redis"] if service == "redis" else ["mongodb"]
        assert ready.json()["error"]["details"]["down"] == expected
        # a finished job's long poll answers from MongoDB at once, even with Redis hung
        assert waited.status_code == (200 if service == "redis" else 503)
        assert took < 20, took
    finally:
        child.signal_group(signal.SIGCONT)
    poll(lambda: api.get("/ready", timeout=10).status_code == 200, 30, what="ready again")
    fsck(faults)


# -- jobs that hurt their worker ---------------------------------------------------------------


def test_a_poison_job_that_kills_its_worker_every_time_fails_as_worker_lost(faults, api) -> None:
    job = submit(api, **job_body("long"))
    kills = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = get_job(api, job["job_id"])
        if current["status"] in FINISHED:
            break
        if current["status"] == "running" and current["progress"]["stage"] == "fitting":
            children = pool_children(faults.children[worker_of(faults, current)].pid)
            for pid in children:
                os.kill(pid, signal.SIGKILL)
            kills += bool(children)
            time.sleep(0.5)
        time.sleep(0.1)
    ended = wait_job(api, job["job_id"], timeout=30)
    assert ended["status"] == "failed" and ended["error"]["type"] == "worker_lost", ended
    assert kills == 3  # MAX_JOB_ATTEMPTS deliveries, then it is given up
    assert api.get("/api/v1/models", params={"name": job["model_name"]}).json()["total"] == 0
    fsck(faults)


def test_a_job_past_its_memory_limit_fails_as_resources_and_the_worker_lives(
    faults: LocalStack, api: Any
) -> None:
    name = unique("memory")
    assert upload_dataset(api, name, synthetic_regression_csv(20_000, 5), "y").status_code == 201
    body = {
        "dataset": name,
        "algorithm": "random_forest",
        "model_name": name,
        "hyperparameters": {"n_estimators": 2000, "max_features": 1},
    }
    job = wait_job(api, submit(api, **body)["job_id"], timeout=180)
    assert job["status"] == "failed" and job["error"]["type"] == "resources", job
    assert "JOB_MEMORY_LIMIT_MB=150" in job["error"]["message"]
    assert job["attempts"] == 1  # no worker died
    worker = faults.children[worker_of(faults, job)]
    assert worker.returncode is None and pool_children(worker.pid)
    small = wait_job(
        api, submit(api, dataset="iris", algorithm="knn", model_name=unique("after"))["job_id"]
    )
    assert small["status"] == "succeeded"
    fsck(faults)
