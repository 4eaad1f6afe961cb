"""Configuration of the local stack: defaults, overridden by environment variables."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SERVICES = ("redis", "mongo", "api", "workers", "beat", "flower")


class ConfigError(ValueError):
    """An environment variable of the local stack has an invalid value."""


@dataclass(frozen=True)
class StackConfig:
    """What to start and where. Worker ``i`` (from 0) gets ``METRICS_PORT = metrics_port + i``."""

    data_dir: Path = Path("var")
    api_port: int = 8000
    flower_port: int = 5555
    redis_port: int = 6379
    mongo_port: int = 27017
    workers: int = 2
    # Queues per worker (``WORKER_QUEUES`` of worker ``i``, e.g. ("training", "search")); empty:
    # every worker serves every queue. From WORKER_POOLS ("training;search,prediction").
    worker_pools: tuple[str, ...] = ()
    metrics_port: int = 9100
    mongodb_db: str = "tensorfleet"
    redis_url: str | None = None  # an external Redis: none is started
    mongodb_url: str | None = None  # an external MongoDB: none is started
    flower_auth: str | None = None  # "user:password"; None: kept in data_dir/secrets/
    # The secrets below come from here (the environment) or, when None, from files under
    # data_dir/secrets/, generated on the first start (localstack.credentials).
    admin_key: str | None = None  # TENSORFLEET_ADMIN_KEY of the app children
    artifact_signing_key: str | None = None  # ARTIFACT_SIGNING_KEY of the app children
    redis_password: str | None = None  # of the embedded Redis (not with an external redis_url)
    services: tuple[str, ...] = SERVICES
    redis_appendonly: bool = True
    env: Mapping[str, str] = field(default_factory=dict)  # extra env for every child
    startup_timeout: float = 60.0
    bootstrap_timeout: float = 300.0
    stop_timeout: float = 10.0
    worker_grace: float = 10.0  # WORKER_SHUTDOWN_GRACE_SECONDS of the workers
    project_dir: Path = PROJECT_DIR
    bin_dir: Path = Path(sys.executable).parent

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> StackConfig:
        """Read API_PORT, FLOWER_PORT, REDIS_PORT, MONGO_PORT, WORKERS, WORKER_POOLS,
        METRICS_PORT, DATA_DIR, MONGODB_DB, REDIS_URL, MONGODB_URL, FLOWER_BASIC_AUTH,
        TENSORFLEET_ADMIN_KEY, ARTIFACT_SIGNING_KEY and REDIS_PASSWORD; ``overrides`` win.
        Empty values count as unset."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for var, name in [
            ("API_PORT", "api_port"),
            ("FLOWER_PORT", "flower_port"),
            ("REDIS_PORT", "redis_port"),
            ("MONGO_PORT", "mongo_port"),
            ("METRICS_PORT", "metrics_port"),
        ]:
            if env.get(var):
                values[name] = _int(env, var, 1, 65535)
        if env.get("WORKERS"):
            values["workers"] = _int(env, "WORKERS", 0, 64)
        if env.get("WORKER_POOLS"):
            pools = tuple(pool.strip() for pool in env["WORKER_POOLS"].split(";") if pool.strip())
            values["worker_pools"] = pools
            values.setdefault("workers", len(pools))
        for var, name in [("REDIS_URL", "redis_url"), ("MONGODB_URL", "mongodb_url")]:
            if env.get(var):
                values[name] = env[var]
        if env.get("DATA_DIR"):
            values["data_dir"] = Path(env["DATA_DIR"])
        if env.get("MONGODB_DB"):
            values["mongodb_db"] = env["MONGODB_DB"]
        if env.get("FLOWER_BASIC_AUTH"):
            user, _, password = env["FLOWER_BASIC_AUTH"].partition(":")
            if not user or not password:
                raise ConfigError("FLOWER_BASIC_AUTH must be 'user:password'")
            values["flower_auth"] = env["FLOWER_BASIC_AUTH"]
        for var, name in [
            ("TENSORFLEET_ADMIN_KEY", "admin_key"),
            ("ARTIFACT_SIGNING_KEY", "artifact_signing_key"),
            ("REDIS_PASSWORD", "redis_password"),
        ]:
            if env.get(var):
                values[name] = env[var]
        config = cls(**{**values, **overrides})  # type: ignore[arg-type]
        if config.worker_pools and len(config.worker_pools) != config.workers:
            raise ConfigError(
                f"WORKER_POOLS names {len(config.worker_pools)} pools for {config.workers} workers"
            )
        if unknown := set(config.services) - set(SERVICES):
            raise ConfigError(f"unknown services {sorted(unknown)}; known: {', '.join(SERVICES)}")
        config.check_secrets()
        return config

    def check_secrets(self) -> None:
        """ConfigError naming the variable of any given secret that would be refused."""
        from localstack.credentials import SPECS  # the rules live beside the generators

        for spec in SPECS:
            value = getattr(self, spec.field)
            if value is not None and (problem := spec.problem(value)):
                raise ConfigError(f"{spec.env_var} {problem}")


def _int(env: Mapping[str, str], var: str, low: int, high: int) -> int:
    try:
        value = int(env[var])
    except ValueError:
        raise ConfigError(f"{var} must be an integer, got {env[var]!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{var} must be between {low} and {high}, got {value}")
    return value
