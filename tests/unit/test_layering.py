"""Imports flow one way: api, web → services → tasks, ml, storage (read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

# package → imports it must never make (prefix match on the imported module)
FORBIDDEN = {
    "app.ml": (
        "app.api",
        "app.web",
        "app.services",
        "app.tasks",
        "app.storage",
        "flask",
        "celery",
        "pymongo",
    ),
    "app.storage": (
        "app.api",
        "app.web",
        "app.services",
        "app.tasks",
        "app.ml",
        "flask",
        "celery",
        "sklearn",
    ),
    "app.services": ("app.api", "app.web", "app.auth", "flask"),
    "app.serving": ("app.api", "app.web", "app.auth", "flask"),
    "app.tasks": ("app.api", "app.web", "app.auth", "flask"),
    "app.api": ("app.auth",),  # the hooks import the API's context, never the reverse
    "app.errors": ("app.", "flask", "celery"),
    "app.statuses": ("app.", "flask", "celery", "pymongo"),
}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(APP.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_import_runs_the_wrong_way(path: Path) -> None:
    name = module_name(path)
    for package, forbidden in FORBIDDEN.items():
        if name == package or name.startswith(package + "."):
            wrong = {m for m in imports_of(path) if m.startswith(forbidden)}
            assert not wrong, f"{name} imports {sorted(wrong)}"
