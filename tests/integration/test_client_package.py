"""``pip install client/`` in a fresh virtual environment outside the repository: the
``tensorfleet`` package installs with its own dependencies only (no scikit-learn, no
server code), and its console script works against the real local stack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import venv
from pathlib import Path

import pytest

from tests.integration.helpers import unique

REPO = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 300  # seconds: the dependencies may come from the machine's package index


def _run(*command: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENSORFLEET_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment (outside the repository) with ``pip install client/``."""
    home = tmp_path_factory.mktemp("client-venv")
    assert not home.resolve().is_relative_to(REPO), home
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    installed = _run(
        python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
        REPO / "client", cwd=home, timeout=PIP_TIMEOUT,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return home


def test_the_package_installs_alone_and_its_cli_works_on_the_stack(stack, fresh_venv) -> None:
    bin_dir = fresh_venv / "venv" / "bin"
    python, cli = bin_dir / "python", bin_dir / "tensorfleet"
    for module in ("sklearn", "pandas", "numpy", "pymongo", "app"):
        absent = _run(python, "-c", f"import {module}", cwd=fresh_venv)
        assert absent.returncode == 1 and "ModuleNotFoundError" in absent.stderr, module
    found = _run(python, "-c", "import tensorfleet; print(tensorfleet.__file__)", cwd=fresh_venv)
    assert found.returncode == 0 and Path(found.stdout.strip()).is_relative_to(fresh_venv)

    where = ["--url", stack.api_url, "--api-key", stack.admin_key]
    algorithms = _run(cli, *where, "algorithms", cwd=fresh_venv)
    assert algorithms.returncode == 0, algorithms.stderr
    assert algorithms.stdout.split()[:3] == ["algorithm", "tasks", "hyperparameters"]
    assert "random_forest" in algorithms.stdout
    datasets = _run(cli, *where, "datasets", cwd=fresh_venv)
    assert datasets.returncode == 0 and "iris" in datasets.stdout, datasets.stderr

    name = unique("venv-knn")
    submitted = _run(
        cli, *where, "--json", "submit", "iris", "knn", "-p", "n_neighbors=3", "-p",
        "weights=None", "--model-name", name, "--wait", "--timeout", "90", cwd=fresh_venv,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "succeeded" and job["hyperparameters"]["n_neighbors"] == 3
    models = _run(cli, *where, "models", "--name", name, cwd=fresh_venv)
    assert models.returncode == 0 and models.stdout.splitlines()[1].startswith(f"{name}@v1")
    listed = _run(cli, *where, "--json", "models", "--name", name, cwd=fresh_venv)
    assert [m["model_id"] for m in json.loads(listed.stdout)["items"]] == [
        job["result"]["model_id"]
    ]
    as_module = _run(python, "-m", "tensorfleet", "--version", cwd=fresh_venv)
    assert as_module.returncode == 0 and as_module.stdout.startswith("tensorfleet, version ")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    stopped = _run(cli, "--url", nowhere, "--retries", "0", "jobs", cwd=fresh_venv)
    assert stopped.returncode == 4 and stopped.stderr.count("\n") == 1, stopped.stderr
    assert "Connection refused" in stopped.stderr and "Traceback" not in stopped.stderr
