"""The local-stack supervisor itself: real servers up, nothing left behind, deaths noticed;
its secrets kept owner-only in DATA_DIR/secrets, never on a command line (the Redis ACL:
test_redis_hardening.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
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
from localstack.credentials import SECRETS_DIR, SPECS
from localstack.process import group_members, pid_alive, wait_until
from tests.integration.helpers import auth_headers, mongo, redis_client

MakeConfig = Callable[..., StackConfig]
INFRA = ("redis", "mongo")
SECRET_VARS = ("TENSORFLEET_ADMIN_KEY", "ARTIFACT_SIGNING_KEY", "FLOWER_BASIC_AUTH")
OWN_SECRETS = [*SECRET_VARS, "REDIS_PASSWORD"]  # to generate: not inherited from our env


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
def cli(tmp_path: Path, make_stack_config: MakeConfig) -> Iterator[Callable[..., subprocess.Popen]]:
    """``start(services="redis,mongo")`` runs ``python -m localstack --services …`` on one
    DATA_DIR (every secret generated there) and waits until it says it is up."""
    config = make_stack_config(tmp_path / "data")
    env = {
        **os.environ,
        "DATA_DIR": str(config.data_dir),
        "REDIS_PORT": str(config.redis_port),
        "MONGO_PORT": str(config.mongo_port),
        "API_PORT": str(config.api_port),
    }
    for var in ("REDIS_URL", "MONGODB_URL", *OWN_SECRETS):
        env.pop(var, None)
    procs: list[subprocess.Popen] = []

    def start(services: str = "redis,mongo") -> subprocess.Popen:
        out_path = tmp_path / f"out{len(procs)}.txt"
        with out_path.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "localstack", "--services", services],
                cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        procs.append(proc)
        up = wait_until(lambda: "local stack is up" in out_path.read_text(), timeout=90)
        assert up, out_path.read_text()
        password = (config.data_dir / SECRETS_DIR / "redis_password").read_text().strip()
        proc.redis_url = f"redis://:{password}@127.0.0.1:{config.redis_port}/0"  # type: ignore[attr-defined]
        proc.mongo_pidfile = config.data_dir / "mongo.pid"  # type: ignore[attr-defined]
        proc.output = lambda: out_path.read_text()  # type: ignore[attr-defined]
        proc.data_dir = config.data_dir  # type: ignore[attr-defined]
        proc.api_url = f"http://127.0.0.1:{config.api_port}"  # type: ignore[attr-defined]
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
    cli: Callable[..., subprocess.Popen], sig: signal.Signals
) -> None:
    proc = cli()
    pids = child_pids(proc)
    assert all(pid_alive(pid) for pid in pids.values())
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0, proc.output()  # type: ignore[attr-defined]
    assert_all_gone(list(pids.values()))


def test_cli_restarts_a_child_that_dies_and_still_stops_on_ctrl_c(
    cli: Callable[..., subprocess.Popen],
) -> None:
    proc = cli()
    pids = child_pids(proc)
    os.kill(pids["redis"], signal.SIGKILL)
    restarted = wait_until(lambda: "redis restarted" in proc.output(), timeout=20)  # type: ignore[attr-defined]
    assert restarted, proc.output()  # type: ignore[attr-defined]
    assert "redis exited unexpectedly (code -9); restarting in 1 s" in proc.output()  # type: ignore[attr-defined]
    assert proc.poll() is None  # the stack lives on
    assert wait_until(lambda: _answers(proc), timeout=20)
    new_pids = child_pids(proc)
    assert new_pids["redis"] != pids["redis"] and new_pids["mongo"] == pids["mongo"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, proc.output()  # type: ignore[attr-defined]
    assert_all_gone(list(new_pids.values()))


def _answers(proc: subprocess.Popen) -> bool:
    try:
        with redis.Redis.from_url(proc.redis_url, socket_timeout=1) as client:  # type: ignore[attr-defined]
            return bool(client.ping())
    except redis.RedisError:
        return False


def test_cli_prints_the_admin_key_it_keeps_across_restarts(
    cli: Callable[..., subprocess.Popen],
) -> None:
    printed = []
    for _ in range(2):
        proc = cli("redis,mongo,api")
        output = proc.output()  # type: ignore[attr-defined]
        key = re.search(r"^\s*Admin key\s+(\S+)", output, re.M)
        assert key, output
        printed.append(key[1])
        kept = proc.data_dir / SECRETS_DIR / "admin_key"  # type: ignore[attr-defined]
        assert kept.read_text().strip() == key[1]
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert re.search(rf"^\s*Secrets\s+{re.escape(str(kept.parent))}$", output, re.M)
        redis_line = re.search(r"^\s*Redis\s+(.*)$", output, re.M)
        assert redis_line and "password: " in redis_line[1], output
        password = (kept.parent / "redis_password").read_text().strip()
        assert password not in output  # where to find it, not the password itself
        with requests.get(proc.api_url + "/health", headers=auth_headers(key[1]), timeout=10) as r:  # type: ignore[attr-defined]
            assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, output
    assert printed[0] == printed[1]


# -- the whole stack ---------------------------------------------------------------------------


def test_whole_stack_serves_api_flower_and_worker_metrics(stack: LocalStack) -> None:
    assert set(stack.children) == {"redis", "mongo", "api", "flower", "beat", "worker0", "worker1"}
    assert stack.poll() is None
    key = auth_headers(stack.admin_key)
    with requests.Session() as http:
        assert http.get(stack.api_url + "/health", headers=key, timeout=10).status_code == 200
        assert http.get(stack.urls["API docs"], headers=key, timeout=10).status_code == 200
        ui = http.get(stack.urls["Web UI"].split()[0], timeout=10)  # no session: the login
        assert ui.status_code == 200 and "/ui/login" in ui.url and 'name="key"' in ui.text
        spec = http.get(stack.urls["OpenAPI spec"], headers=key, timeout=10)
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


# -- secrets ----------------------------------------------------------------------------------


def test_secrets_are_kept_owner_only_and_survive_a_restart(
    tmp_path: Path, make_stack_config: MakeConfig
) -> None:
    config = make_stack_config(tmp_path, services=("redis",), admin_key=None, flower_auth=None)
    runs = []
    for _ in range(2):
        with LocalStack(config) as stack:
            with redis_client(stack) as client:
                assert client.ping()
            runs.append({spec.field: getattr(stack.secrets, spec.field) for spec in SPECS})
    first, second = runs
    directory = tmp_path / SECRETS_DIR
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(path.name for path in directory.iterdir()) == sorted(s.file for s in SPECS)
    for field, secret in first.items():
        assert secret.generated and not second[field].generated, field
        assert secret.value == second[field].value, f"{field} changed on the restart"
        assert secret.path == directory / secret.spec.file
        assert secret.path.read_text().strip() == secret.value
        assert stat.S_IMODE(secret.path.stat().st_mode) == 0o600, secret.path
    assert len(first["admin_key"].value) >= 32 and len(first["artifact_signing_key"].value) >= 32
    other = LocalStack(make_stack_config(tmp_path / "other", admin_key=None, flower_auth=None))
    for field, secret in first.items():
        assert getattr(other.secrets, field).value != secret.value, f"{field} is not random"


def stack_secrets(stack: LocalStack) -> dict[str, str]:
    """Every secret of ``stack``, by what it is."""
    assert stack.redis_password is not None
    return {
        "admin key": stack.admin_key,
        "artifact signing key": stack.artifact_signing_key,
        "Redis password": stack.redis_password,
        "Flower password": stack.flower_auth.partition(":")[2],
    }


def process_environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_no_secret_on_a_command_line_or_in_a_log(stack: LocalStack) -> None:
    secrets = stack_secrets(stack)
    seen = 0
    for name, child in stack.children.items():
        for pid in {child.pid, *group_members(child.pid)}:  # gunicorn and celery pools too
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue  # exited meanwhile (a recycled pool process)
            seen += 1
            for what, value in secrets.items():
                assert value not in cmdline, f"the {what} is on the command line of {name}"
    assert seen > len(stack.children)
    logs = sorted(stack.log_dir.glob("*.log"))
    assert {"redis.log", "api.log", "worker0.log", "flower.log"} <= {log.name for log in logs}
    for log in logs:
        text = log.read_text(errors="replace")
        for what, value in secrets.items():
            assert value not in text, f"the {what} is in {log.name}"


def test_secrets_reach_the_app_children_through_their_environment(stack: LocalStack) -> None:
    secrets = stack_secrets(stack)
    for name, child in stack.children.items():
        env = process_environ(child.pid)
        if name in INFRA:
            leaked = [what for what, value in secrets.items() if value in "\0".join(env.values())]
            assert leaked == [], f"{name} got {leaked}"
            continue
        assert env["TENSORFLEET_ADMIN_KEY"] == stack.admin_key, name
        assert env["ARTIFACT_SIGNING_KEY"] == stack.artifact_signing_key, name
        assert env["REDIS_URL"] == stack.redis_url, name
        assert ("FLOWER_BASIC_AUTH" in env) == (name == "flower"), name


def test_no_secret_is_stored_in_mongodb(stack: LocalStack) -> None:
    secrets = stack_secrets(stack)
    with mongo(stack) as db:
        # Not the GridFS chunks (the files' bytes); nx-27017 lists "fs.files" as "fs_files".
        listed = [name for name in db.list_collection_names() if not name.endswith("chunks")]
        names = {re.sub(r"_files$", ".files", name) for name in listed}
        assert "jobs" in names
        for name in sorted(names):
            for document in db[name].find():
                text = json.dumps(document, default=str)
                for what, value in secrets.items():
                    assert value not in text, f"the {what} is stored in {name}"
