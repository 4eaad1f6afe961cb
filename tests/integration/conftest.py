"""Integration fixtures: the real local stack (Redis, nx-27017, API, workers, Flower) on free ports.

Every test in this directory is marked ``integration`` automatically. Every stack made with
:func:`stack_config` has the session's admin key (``helpers.ADMIN_KEY``), which every HTTP
client of the API here sends (``Authorization: Bearer <key>``); its Redis has a password
(in ``stack.redis_url``), so a test's own Redis client must use ``stack.redis_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from localstack import LocalStack, StackConfig, free_ports
from tests.integration.helpers import ADMIN_KEY, auth_headers

HERE = Path(__file__).parent
# Every test of the session shares one admin key: far above what the suite sends, so the
# API's per-key rate limits (default 120 writes a minute) never fail an unrelated test. A
# test of the limits starts its own API with its own (``env={"RATE_LIMIT_WRITES": …}``).
STACK_ENV = {
    "RATE_LIMIT_WRITES": "100000/minute",
    "RATE_LIMIT_READS": "100000/minute",
    "RATE_LIMIT_PREDICTIONS": "100000/minute",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests under tests/integration as ``integration``."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def stack_config(data_dir: Path, **overrides: Any) -> StackConfig:
    """A StackConfig on fresh free ports under ``data_dir``, Redis without persistence, the
    session's admin key (the other secrets are generated and kept in ``data_dir/secrets``),
    and :data:`STACK_ENV` under the ``env`` given."""
    metrics = free_ports(2, consecutive=True)
    while set(ports := free_ports(4)) & set(metrics):
        pass
    redis_port, mongo_port, api_port, flower_port = ports
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "redis_port": redis_port,
        "mongo_port": mongo_port,
        "api_port": api_port,
        "flower_port": flower_port,
        "metrics_port": metrics[0],
        "workers": 2,
        "mongodb_db": "tensorfleet_test",
        "flower_auth": "tester:integration-secret",
        "admin_key": ADMIN_KEY,
        "redis_appendonly": False,
        "startup_timeout": 90.0,
    }
    env = {**STACK_ENV, **overrides.pop("env", {})}
    return StackConfig(**{**values, **overrides, "env": env})


@pytest.fixture(scope="session")
def make_stack_config() -> Callable[..., StackConfig]:
    """``make_stack_config(data_dir, **overrides)``: a config on free ports (e.g. a subset:
    ``services=("redis", "mongo")``) for tests that start their own LocalStack."""
    return stack_config


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole stack, started once per session; ``api_url``, ``redis_url``, ``mongodb_url``,
    ``flower_url``, ``flower_auth``, ``metrics_urls`` and ``data_dir`` tell where it is, and
    ``admin_key``, ``redis_password`` and ``artifact_signing_key`` its secrets."""
    with LocalStack(stack_config(tmp_path_factory.mktemp("stack"))) as started:
        yield started


class ApiClient:
    """A ``requests.Session`` whose paths are relative to the API's base URL (the session's
    default headers carry the admin key)."""

    def __init__(self, session: requests.Session, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (e.g. ``/api/v1/jobs``)."""
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; a 30 s timeout unless given."""
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """PUT ``path``."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """PATCH ``path``."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(stack: LocalStack) -> Iterator[ApiClient]:
    """An HTTP client of the running stack's API, authenticated with its admin key."""
    with requests.Session() as session:
        session.headers.update(auth_headers(stack.admin_key))
        yield ApiClient(session, stack.api_url)


@pytest.fixture
def in_process_clients() -> Iterator[None]:
    """Close the per-process MongoDB/Redis clients an in-process app creates (no leaks)."""
    from app.storage import mongo as mongo_module
    from app.storage import redis as redis_module

    caches = (mongo_module._clients, redis_module._clients)
    before = [set(cache) for cache in caches]
    yield
    for cache, known in zip(caches, before, strict=True):
        for key in set(cache) - known:
            cache.pop(key).close()
