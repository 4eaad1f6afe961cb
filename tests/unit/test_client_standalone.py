"""The ``tensorfleet`` package (``client/``) stands alone: it imports only the standard
library and its three dependencies, declares only those, and its copy of the job statuses
is the server's."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import app.statuses
import tensorfleet
import tensorfleet.statuses

CLIENT = Path(__file__).resolve().parents[2] / "client"
PACKAGE = CLIENT / "tensorfleet"
DEPENDENCIES = {"requests", "click", "rich"}
MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_statuses_are_the_servers() -> None:
    assert tensorfleet.statuses.STATUSES == app.statuses.STATUSES
    assert tensorfleet.statuses.ACTIVE == app.statuses.ACTIVE
    assert tensorfleet.statuses.FINISHED == app.statuses.FINISHED
    assert set(tensorfleet.statuses.FAILED) < set(app.statuses.FINISHED)


def _imports(path: Path) -> set[str]:
    """The top-level names of every absolute import in ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(CLIENT)) for p in MODULES])
def test_a_module_imports_the_standard_library_and_the_dependencies_only(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | DEPENDENCIES | {"tensorfleet"}
    assert _imports(path) - allowed == set()


def test_the_distribution_declares_the_http_stack_and_the_cli_libraries_only() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0] for spec in project["dependencies"]}
    assert names == DEPENDENCIES
    assert project["scripts"] == {"tensorfleet": "tensorfleet.cli:main"}
    assert importlib.metadata.version(project["name"]) == tensorfleet.__version__


def test_importing_the_client_and_the_cli_loads_nothing_of_the_server(tmp_path: Path) -> None:
    probe = (
        "import sys, tensorfleet, tensorfleet.cli\n"
        "heavy = ('app', 'sklearn', 'pandas', 'numpy', 'pymongo', 'flask', 'celery')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_python_m_tensorfleet_is_the_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tensorfleet", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        done.returncode == 0
        and done.stdout.strip() == f"tensorfleet, version {tensorfleet.__version__}"
    )
