"""The local-stack supervisor itself: real servers up, nothing left behind, deaths noticed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import gridfs
import pymongo
import pytest
import redis
import requests

from localstack import LocalStack, StackConfig, StackError
from localstack.config import PROJECT_DIR
from localstack.process import group_members, pid_alive, wait_until

MakeConfig = Callable[..., StackConfig]
INFRA = ("redis", "mongo")


def assert_all_gone(pids: list[int]) -> None:
    """No process, and no member of its process group, is left (bounded wait)."""
    gone = wait_until(lambda: not any(pid_alive(p) or group_members(p) for p in pids), timeout=15)
    left = {p: group_members(p) for p in pids if pid_alive(p) or group_members(p)}
    assert gone, f"processes left behind: {left}"


@pytest.fixture
def infra(tmp_path: Path, make_stack_config: MakeConfig) -> Iterator[LocalStack]:
    """Only Redis and nx-27017, as storage tests may use them."""
    with LocalStack(make_stack_config(tmp_path, services=INFRA)) as stack:
        yield stack


def test_subset_starts_real_redis_and_mongodb(infra: LocalStack) -> None:
    assert set(infra.children) == {"redis", "mongo"}
    with redis.Redis.from_url(infra.redis_url) as client:
        assert client.ping()
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
    with pymongo.MongoClient(infra.mongodb_url, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("ping")["ok"] == 1
        files = gridfs.GridFS(client[infra.config.mongodb_db])
        assert files.get(files.put(b"model bytes")).read() == b"model bytes"
    assert (infra.log_dir / "redis.log").read_text().strip()
    assert (infra.data_dir / "mongo" / f"{infra.config.mongodb_db}.db").exists()


def test_stale_prometheus_files_are_wiped_at_start(
    tmp_path: Path, make_stack_config: MakeConfig
) -> None:
    stale = tmp_path / "prometheus" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    with LocalStack(make_stack_config(tmp_path, services=("redis",))):
        assert not stale.exists()
        assert (tmp_path / "prometheus").is_dir()


def test_stop_leaves_no_process_behind(tmp_path: Path, make_stack_config: MakeConfig) -> None:
    stack = LocalStack(make_stack_config(tmp_path, services=INFRA)).start()
    pids = [child.pid for child in stack.children.values()]
    assert all(pid_alive(pid) for pid in pids)
    stack.stop()
    assert_all_gone(pids)
    stack.stop()  # idempotent


def test_a_dying_child_is_noticed(infra: LocalStack) -> None:
    assert infra.wait(timeout=0.5) is None
    mongo = infra.children["mongo"]
    os.kill(mongo.pid, signal.SIGKILL)
    dead = infra.wait(timeout=10)
    assert dead is mongo
    assert dead.returncode == -signal.SIGKILL
    redis_pid = infra.children["redis"].pid
    infra.stop()
    assert_all_gone([redis_pid, mongo.pid])


def test_failed_startup_stops_what_it_started(
    tmp_path: Path, make_stack_config: MakeConfig
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        nowhere = f"mongodb://127.0.0.1:{closed.getsockname()[1]}"
    config = make_stack_config(tmp_path, services=INFRA, mongodb_url=nowhere, startup_timeout=3)
    stack = LocalStack(config)
    with pytest.raises(StackError, match="MongoDB not ready"):
        stack.start()
    assert set(stack.children) == {"redis"}
    assert_all_gone([stack.children["redis"].pid])


def test_busy_port_is_reported_before_anything_starts(
    tmp_path: Path, make_stack_config: MakeConfig
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = make_stack_config(tmp_path, services=INFRA, redis_port=busy.getsockname()[1])
        stack = LocalStack(config)
        with pytest.raises(StackError, match="REDIS_PORT"):
            stack.start()
    assert stack.children == {}


def test_external_redis_is_used_instead_of_starting_one(
    tmp_path: Path, make_stack_config: MakeConfig
) -> None:
    with LocalStack(make_stack_config(tmp_path / "a", services=("redis",))) as first:
        config = make_stack_config(tmp_path / "b", services=INFRA, redis_url=first.redis_url)
        with LocalStack(config) as second:
            assert set(second.children) == {"mongo"}
            assert second.redis_url == first.redis_url
            with redis.Redis.from_url(second.redis_url) as client:
                assert client.ping()


# -- the `python -m localstack` entry point ------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, make_stack_config: MakeConfig) -> Iterator[Callable[[], subprocess.Popen]]:
    """Start ``python -m localstack --services redis,mongo``; wait until it says it is up."""
    config = make_stack_config(tmp_path / "data")
    env = {
        **os.environ,
        "DATA_DIR": str(config.data_dir),
        "REDIS_PORT": str(config.redis_port),
        "MONGO_PORT": str(config.mongo_port),
    }
    for var in ("REDIS_URL", "MONGODB_URL"):
        env.pop(var, None)
    out_path = tmp_path / "out.txt"
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        with out_path.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "localstack", "--services", "redis,mongo"],
                cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        procs.append(proc)
        up = wait_until(lambda: "local stack is up" in out_path.read_text(), timeout=60)
        assert up, out_path.read_text()
        proc.redis_url = f"redis://127.0.0.1:{config.redis_port}/0"  # type: ignore[attr-defined]
        proc.mongo_pidfile = config.data_dir / "mongo.pid"  # type: ignore[attr-defined]
        proc.output = lambda: out_path.read_text()  # type: ignore[attr-defined]
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def child_pids(proc: subprocess.Popen) -> dict[str, int]:
    """PIDs of the CLI's Redis (from INFO) and nx-27017 (from its pid file)."""
    with redis.Redis.from_url(proc.redis_url) as client:  # type: ignore[attr-defined]
        redis_pid = int(client.info("server")["process_id"])
    return {"redis": redis_pid, "mongo": int(proc.mongo_pidfile.read_text())}  # type: ignore[attr-defined]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_stops_every_child(
    cli: Callable[[], subprocess.Popen], sig: signal.Signals
) -> None:
    proc = cli()
    pids = child_pids(proc)
    assert all(pid_alive(pid) for pid in pids.values())
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0, proc.output()  # type: ignore[attr-defined]
    assert_all_gone(list(pids.values()))


def test_cli_exits_nonzero_when_a_child_dies(cli: Callable[[], subprocess.Popen]) -> None:
    proc = cli()
    pids = child_pids(proc)
    os.kill(pids["redis"], signal.SIGKILL)
    assert proc.wait(timeout=30) == 1
    assert "redis exited unexpectedly" in proc.output()  # type: ignore[attr-defined]
    assert_all_gone(list(pids.values()))


# -- the whole stack ---------------------------------------------------------------------------


def test_whole_stack_serves_api_flower_and_worker_metrics(stack: LocalStack) -> None:
    assert set(stack.children) == {"redis", "mongo", "api", "flower", "worker0", "worker1"}
    assert stack.poll() is None
    with requests.Session() as http:
        assert http.get(stack.api_url + "/health", timeout=10).status_code == 200
        assert http.get(stack.urls["API docs"], timeout=10).status_code == 200
        spec = http.get(stack.urls["OpenAPI spec"], timeout=10)
        assert spec.status_code == 200
        assert "openapi" in spec.json()
        assert http.get(stack.flower_url, timeout=10).status_code == 401
        user, _, password = stack.flower_auth.partition(":")
        flower = http.get(stack.flower_url + "/workers", auth=(user, password), timeout=10)
        assert flower.status_code == 200
        for url in stack.metrics_urls:
            metrics = http.get(url, timeout=10)  # empty until a task has run
            assert metrics.status_code == 200, url
            assert metrics.headers["Content-Type"].startswith("text/plain"), url
