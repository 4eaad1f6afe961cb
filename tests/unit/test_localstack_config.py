"""StackConfig.from_env, the URLs and secrets a LocalStack derives from it (nothing is started;
secrets go to a temporary DATA_DIR)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from localstack import SERVICES, ConfigError, LocalStack, StackConfig
from localstack.credentials import REDIS_ACL_RULES, SECRETS_DIR, SPECS, redis_config

KEY = "k" * 32  # the shortest key the app accepts


def test_defaults_when_environment_is_empty() -> None:
    config = StackConfig.from_env({})
    assert (config.api_port, config.flower_port) == (8000, 5555)
    assert (config.redis_port, config.mongo_port) == (6379, 27017)
    assert (config.workers, config.metrics_port) == (2, 9100)
    assert config.data_dir == Path("var")
    assert config.mongodb_db == "tensorfleet"
    assert config.redis_url is None and config.mongodb_url is None
    assert config.flower_auth is None
    assert config.admin_key is None and config.artifact_signing_key is None
    assert config.redis_password is None
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
    assert stack.redis_url == f"redis://:{stack.redis_password}@127.0.0.1:16379/0"
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
    assert stack.urls["Web UI"].startswith("http://127.0.0.1:18000/ui/ ")
    assert stack.urls["OpenAPI spec"] == "http://127.0.0.1:18000/api/v1/docs/openapi.json"


def test_external_urls_replace_the_embedded_servers(tmp_path: Path) -> None:
    env = {
        "REDIS_URL": "redis://:cache-secret@cache.example:6380/2",
        "MONGODB_URL": "mongodb://app:db-secret@db.example",
        "DATA_DIR": str(tmp_path),
    }
    stack = LocalStack(StackConfig.from_env(env))
    assert stack.redis_url == "redis://:cache-secret@cache.example:6380/2"
    assert stack.mongodb_url == "mongodb://app:db-secret@db.example"
    assert stack.redis_password is None  # theirs: none is generated
    assert not (tmp_path / SECRETS_DIR / "redis_password").exists()
    assert stack.urls["Redis"] == "redis://:***@cache.example:6380/2"
    assert stack.urls["MongoDB"] == "mongodb://app:***@db.example (db tensorfleet)"


def test_empty_values_count_as_unset() -> None:
    env = {"API_PORT": "", "REDIS_URL": "", "FLOWER_BASIC_AUTH": "", "TENSORFLEET_ADMIN_KEY": ""}
    config = StackConfig.from_env({**env, "ARTIFACT_SIGNING_KEY": "", "REDIS_PASSWORD": ""})
    assert config.api_port == 8000
    assert config.redis_url is None
    assert config.flower_auth is None
    assert config.admin_key is config.artifact_signing_key is config.redis_password is None


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


def test_flower_auth_from_environment_is_used_and_not_printed(tmp_path: Path) -> None:
    env = {"FLOWER_BASIC_AUTH": "ops:s3cret:x", "DATA_DIR": str(tmp_path)}
    stack = LocalStack(StackConfig.from_env(env))
    assert stack.flower_auth == "ops:s3cret:x"
    assert stack.secrets.flower_auth.from_environment
    assert "s3cret" not in stack.urls["Flower"]
    assert "user ops" in stack.urls["Flower"]
    assert not (tmp_path / SECRETS_DIR / "flower_auth").exists()  # theirs: not written


@pytest.mark.parametrize("value", ["nocolon", ":password", "user:"])
def test_malformed_flower_auth_is_rejected(value: str) -> None:
    with pytest.raises(ConfigError, match="FLOWER_BASIC_AUTH"):
        StackConfig.from_env({"FLOWER_BASIC_AUTH": value})


def test_flower_auth_is_generated_when_unset_and_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path / "a")}))
    again = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path / "a")}))
    other = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path / "b")}))
    user, _, password = first.flower_auth.partition(":")
    assert user == "admin"
    assert len(password) >= 16
    assert first.secrets.flower_auth.generated and not first.secrets.flower_auth.from_environment
    assert again.flower_auth == first.flower_auth  # the same login after a restart
    assert not again.secrets.flower_auth.generated
    assert other.flower_auth != first.flower_auth
    assert password in first.urls["Flower"]  # printed, since nobody else knows it


def test_overrides_win_over_environment() -> None:
    config = StackConfig.from_env({"API_PORT": "9000"}, api_port=9001, services=("redis",))
    assert config.api_port == 9001
    assert config.services == ("redis",)


def test_unknown_service_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown services"):
        StackConfig.from_env({}, services=("redis", "postgres"))


def test_subset_without_workers_has_no_metrics_or_api_urls(tmp_path: Path) -> None:
    stack = LocalStack(
        StackConfig.from_env({"DATA_DIR": str(tmp_path)}, services=("redis", "mongo"))
    )
    assert stack.metrics_urls == []
    assert set(stack.urls) == {"Redis", "MongoDB", "Logs", "Secrets"}


# -- secrets -------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_generated_once_and_kept_owner_only(tmp_path: Path) -> None:
    stack = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path)}))
    secrets = stack.secrets
    directory = tmp_path / SECRETS_DIR
    assert secrets.directory == directory and mode(directory) == 0o700
    assert sorted(path.name for path in directory.iterdir()) == sorted(s.file for s in SPECS)
    for spec in SPECS:
        secret = getattr(secrets, spec.field)
        assert secret.generated and secret.path == directory / spec.file
        assert secret.path.read_text() == secret.value + "\n"
        assert mode(secret.path) == 0o600
        assert spec.problem(secret.value) is None
        assert secret.value not in repr(secret)
    assert len(stack.admin_key) >= 32 and len(stack.artifact_signing_key) >= 32
    again = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path)}))
    assert (
        again.secrets.admin_key.value == stack.admin_key and not again.secrets.admin_key.generated
    )
    assert again.artifact_signing_key == stack.artifact_signing_key
    assert again.redis_password == stack.redis_password


def test_the_admin_key_is_printed_unless_given(tmp_path: Path) -> None:
    ours = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path / "a")}))
    assert ours.urls["Admin key"].startswith(ours.admin_key + " ")
    assert ours.redis_password not in str(ours.urls)  # where it is kept, not the password
    assert str(tmp_path / "a" / SECRETS_DIR / "redis_password") in ours.urls["Redis"]
    assert ours.urls["Secrets"] == str(tmp_path / "a" / SECRETS_DIR)
    assert ours.artifact_signing_key not in str(ours.urls)
    env = {"DATA_DIR": str(tmp_path / "b"), "TENSORFLEET_ADMIN_KEY": KEY}
    given = LocalStack(StackConfig.from_env(env))
    assert given.admin_key == KEY and given.secrets.admin_key.from_environment
    assert KEY not in str(given.urls) and "TENSORFLEET_ADMIN_KEY" in given.urls["Admin key"]
    assert not (tmp_path / "b" / SECRETS_DIR / "admin_key").exists()


def test_given_secrets_are_used_and_written_nowhere(tmp_path: Path) -> None:
    env = {
        "DATA_DIR": str(tmp_path),
        "TENSORFLEET_ADMIN_KEY": "a" * 40,
        "ARTIFACT_SIGNING_KEY": "s" * 64,
        "FLOWER_BASIC_AUTH": "ops:flower-password",
        "REDIS_PASSWORD": "redis-password-0123",
    }
    stack = LocalStack(StackConfig.from_env(env))
    assert (stack.admin_key, stack.artifact_signing_key) == ("a" * 40, "s" * 64)
    assert stack.redis_url == "redis://:redis-password-0123@127.0.0.1:6379/0"
    assert list(stack.secrets.directory.iterdir()) == []


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("TENSORFLEET_ADMIN_KEY", "k" * 31),
        ("TENSORFLEET_ADMIN_KEY", "k" * 31 + " x"),
        ("ARTIFACT_SIGNING_KEY", "too-short"),
        ("REDIS_PASSWORD", "has@and:in-a-url"),
        ("REDIS_PASSWORD", "short"),
        ("FLOWER_BASIC_AUTH", "user:pass word"),
    ],
)
def test_a_refused_secret_is_reported_naming_its_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        StackConfig.from_env({var: value})


def test_a_kept_secret_that_is_refused_names_its_file(tmp_path: Path) -> None:
    kept = tmp_path / SECRETS_DIR / "artifact_signing_key"
    kept.parent.mkdir()
    kept.write_text("short\n")
    stack = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path)}))
    with pytest.raises(ConfigError, match=str(kept)):
        _ = stack.secrets
    assert kept.read_text() == "short\n"  # never replaced: files were signed with it


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    directory = tmp_path / SECRETS_DIR
    directory.mkdir(mode=0o755)
    (directory / "admin_key").write_text(KEY + "\n")
    (directory / "admin_key").chmod(0o644)
    stack = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path)}))
    assert stack.admin_key == KEY
    assert mode(directory) == 0o700 and mode(directory / "admin_key") == 0o600


def test_children_get_the_secrets_in_their_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("TENSORFLEET_ADMIN_KEY", "ARTIFACT_SIGNING_KEY", "FLOWER_BASIC_AUTH"):
        monkeypatch.setenv(var, "inherited-" + "x" * 32)  # the supervisor's own: not passed on
    monkeypatch.setenv("REDIS_PASSWORD", "inherited-password")
    stack = LocalStack(StackConfig.from_env({"DATA_DIR": str(tmp_path)}))
    secrets = [stack.admin_key, stack.artifact_signing_key, stack.redis_password]
    for name in ("api", "worker0", "flower", "bootstrap"):
        env = stack._env(name)
        assert env["TENSORFLEET_ADMIN_KEY"] == stack.admin_key, name
        assert env["ARTIFACT_SIGNING_KEY"] == stack.artifact_signing_key, name
        assert env["REDIS_URL"] == stack.redis_url, name
        assert "FLOWER_BASIC_AUTH" not in env and "REDIS_PASSWORD" not in env, name
    for name in ("redis", "mongo"):
        env = stack._env(name)
        assert not [v for v in env.values() if "inherited" in v or any(s in v for s in secrets)]
    argv = stack._redis_argv()
    assert argv[1] == "-"  # the configuration, with the password, comes from stdin
    assert not any(secret in word for secret in secrets for word in argv)
    assert redis_config(stack.redis_password) == (
        f"user default on >{stack.redis_password} {REDIS_ACL_RULES}\n"
    )
    assert os.environ["REDIS_PASSWORD"] == "inherited-password"  # not ours to change


def test_worker_pools_from_environment() -> None:
    config = StackConfig.from_env({"WORKER_POOLS": "training; search,prediction"})
    assert config.worker_pools == ("training", "search,prediction") and config.workers == 2
    with pytest.raises(ConfigError, match="2 pools for 3 workers"):
        StackConfig.from_env({"WORKER_POOLS": "training;search", "WORKERS": "3"})
