"""StackConfig.from_env and the URLs a LocalStack derives from it (nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localstack import SERVICES, ConfigError, LocalStack, StackConfig


def test_defaults_when_environment_is_empty() -> None:
    config = StackConfig.from_env({})
    assert (config.api_port, config.flower_port) == (8000, 5555)
    assert (config.redis_port, config.mongo_port) == (6379, 27017)
    assert (config.workers, config.metrics_port) == (2, 9100)
    assert config.data_dir == Path("var")
    assert config.mongodb_db == "tensorfleet"
    assert config.redis_url is None and config.mongodb_url is None
    assert config.flower_auth is None
    assert config.services == SERVICES


def test_ports_workers_and_data_dir_from_environment(tmp_path: Path) -> None:
    env = {
        "API_PORT": "18000",
        "FLOWER_PORT": "15555",
        "REDIS_PORT": "16379",
        "MONGO_PORT": "17017",
        "WORKERS": "3",
        "METRICS_PORT": "19100",
        "DATA_DIR": str(tmp_path / "data"),
        "MONGODB_DB": "tf_test",
    }
    stack = LocalStack(StackConfig.from_env(env))
    assert stack.api_url == "http://127.0.0.1:18000"
    assert stack.flower_url == "http://127.0.0.1:15555"
    assert stack.redis_url == "redis://127.0.0.1:16379/0"
    assert stack.mongodb_url == "mongodb://127.0.0.1:17017"
    assert stack.metrics_urls == [
        "http://127.0.0.1:19100/metrics",
        "http://127.0.0.1:19101/metrics",
        "http://127.0.0.1:19102/metrics",
    ]
    assert stack.data_dir == tmp_path / "data"
    assert stack.log_dir == tmp_path / "data" / "logs"
    assert stack.config.mongodb_db == "tf_test"
    assert stack.urls["API docs"] == "http://127.0.0.1:18000/api/v1/docs/swagger/"
    assert stack.urls["OpenAPI spec"] == "http://127.0.0.1:18000/api/v1/docs/openapi.json"


def test_external_urls_replace_the_embedded_servers() -> None:
    env = {"REDIS_URL": "redis://cache.example:6380/2", "MONGODB_URL": "mongodb://db.example"}
    stack = LocalStack(StackConfig.from_env(env))
    assert stack.redis_url == "redis://cache.example:6380/2"
    assert stack.mongodb_url == "mongodb://db.example"


def test_empty_values_count_as_unset() -> None:
    config = StackConfig.from_env({"API_PORT": "", "REDIS_URL": "", "FLOWER_BASIC_AUTH": ""})
    assert config.api_port == 8000
    assert config.redis_url is None
    assert config.flower_auth is None


def test_relative_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stack = LocalStack(StackConfig.from_env({"DATA_DIR": "./var"}))
    assert stack.data_dir == tmp_path / "var"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("API_PORT", "http"),
        ("REDIS_PORT", "0"),
        ("MONGO_PORT", "70000"),
        ("METRICS_PORT", "-1"),
        ("WORKERS", "two"),
        ("WORKERS", "-1"),
    ],
)
def test_invalid_numbers_are_rejected_naming_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        StackConfig.from_env({var: value})


def test_zero_workers_is_allowed() -> None:
    stack = LocalStack(StackConfig.from_env({"WORKERS": "0"}))
    assert stack.metrics_urls == []


def test_flower_auth_from_environment_is_used_and_not_printed() -> None:
    stack = LocalStack(StackConfig.from_env({"FLOWER_BASIC_AUTH": "ops:s3cret:x"}))
    assert stack.flower_auth == "ops:s3cret:x"
    assert not stack.flower_auth_generated
    assert "s3cret" not in stack.urls["Flower"]
    assert "user ops" in stack.urls["Flower"]


@pytest.mark.parametrize("value", ["nocolon", ":password", "user:"])
def test_malformed_flower_auth_is_rejected(value: str) -> None:
    with pytest.raises(ConfigError, match="FLOWER_BASIC_AUTH"):
        StackConfig.from_env({"FLOWER_BASIC_AUTH": value})


def test_flower_auth_is_generated_when_unset_and_differs_each_time() -> None:
    first = LocalStack(StackConfig.from_env({}))
    second = LocalStack(StackConfig.from_env({}))
    user, _, password = first.flower_auth.partition(":")
    assert user == "admin"
    assert len(password) >= 16
    assert first.flower_auth_generated
    assert first.flower_auth != second.flower_auth
    assert password in first.urls["Flower"]  # printed, since nobody else knows it


def test_overrides_win_over_environment() -> None:
    config = StackConfig.from_env({"API_PORT": "9000"}, api_port=9001, services=("redis",))
    assert config.api_port == 9001
    assert config.services == ("redis",)


def test_unknown_service_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown services"):
        StackConfig.from_env({}, services=("redis", "postgres"))


def test_subset_without_workers_has_no_metrics_or_api_urls() -> None:
    stack = LocalStack(StackConfig.from_env({}, services=("redis", "mongo")))
    assert stack.metrics_urls == []
    assert set(stack.urls) == {"Redis", "MongoDB", "Logs"}
