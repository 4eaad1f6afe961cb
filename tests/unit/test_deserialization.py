"""Nothing unverified is deserialized: one module unpickles, one module calls it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNPICKLERS = {("joblib", "load"), ("pickle", "load"), ("pickle", "loads"), ("dill", "load")}


def _calls(path: Path) -> set[tuple[str, str]]:
    """(module alias, attribute) of every ``x.y(...)`` call, plus bare ``load_model(...)``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                found.add((func.value.id, func.attr))
            elif isinstance(func, ast.Name):
                found.add(("", func.id))
        if isinstance(node, ast.ImportFrom) and node.module in {"joblib", "pickle"}:
            found.update((node.module, alias.name) for alias in node.names)
    return found


def _server_modules() -> list[Path]:
    return [*sorted((ROOT / "app").rglob("*.py")), ROOT / "worker.py"]


def test_only_the_ml_training_module_unpickles() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix() for path in _server_modules() if _calls(path) & UNPICKLERS
    ]
    assert offenders == ["app/ml/training.py"]


def test_only_the_verified_loader_calls_load_model() -> None:
    callers = [
        path.relative_to(ROOT).as_posix()
        for path in _server_modules()
        if ("", "load_model") in _calls(path) or ("training", "load_model") in _calls(path)
    ]
    assert callers == ["app/serving/loader.py"]
