"""The README tells the truth: every JSON response it shows is part of a real one.

Each ``<!-- example: STATUS METHOD PATH [JSON body] -->`` marker in README.md is
followed by a ```json block. The request is sent to the running stack, in README
order; the answer must have the status and contain the JSON shown. ``"<name>"``
strings match any value (``<job_id>`` and ``<model_id>`` in a path are the ids
of the latest examples), a trailing ``"…"`` in a list matches the rest, and
numbers match to the digits shown. A GET that differs is asked again for up to
``SETTLE_SECONDS`` (what a worker does right after a job, e.g. the ONNX copy, may
still be on its way); anything else must match the first time.
"""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = re.compile(
    r"<!-- example: (\d{3}) ([A-Z]+) (\S+)(?: (\{[^\n]*\}))? -->\s*```json\n(.*?)```", re.S
)
WILDCARD = re.compile(r"^<[^<>]+>$")
SETTLE_SECONDS = 15


def readme_examples() -> list[tuple[int, str, str, Any, Any]]:
    """(status, method, path, body or None, expected JSON) of each README example."""
    found = MARKER.findall(README.read_text(encoding="utf-8"))
    return [
        (int(status), method, path, json.loads(body) if body else None, json.loads(expected))
        for status, method, path, body, expected in found
    ]


def mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """Why ``actual`` does not contain ``expected`` (None when it does)."""
    if isinstance(expected, str) and WILDCARD.match(expected):
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing"
            if problem := mismatch(value, actual[key], f"{where}.{key}"):
                return problem
        return None
    if isinstance(expected, list):
        prefix = bool(expected) and expected[-1] == "…"
        items = expected[:-1] if prefix else expected
        if not isinstance(actual, list) or len(actual) < len(items):
            return f"{where}: expected {expected!r}, got {actual!r}"
        if not prefix and len(actual) != len(items):
            return f"{where}: expected {len(items)} items, got {len(actual)}"
        for i, (want, got) in enumerate(zip(items, actual, strict=False)):
            if problem := mismatch(want, got, f"{where}[{i}]"):
                return problem
        return None
    if isinstance(expected, float) and not isinstance(expected, bool):
        digits = -Decimal(repr(expected)).as_tuple().exponent
        if isinstance(actual, (int, float)) and abs(actual - expected) <= 0.5 * 10.0**-digits:
            return None
        return f"{where}: expected {expected!r}, got {actual!r}"
    if expected != actual or type(expected) is not type(actual):
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def test_the_readme_has_examples_to_check() -> None:
    paths = {path.split("?")[0] for _, _, path, _, _ in readme_examples()}
    assert {"/api/v1/jobs", "/api/v1/algorithms/random_forest", "/ready"} <= paths


def test_the_matcher_rejects_what_differs() -> None:
    assert mismatch({"a": 0.9}, {"a": 0.9004, "b": 1}) is None
    assert mismatch({"a": 0.93}, {"a": 0.9}) is not None
    assert mismatch({"a": [1, "…"]}, {"a": [1, 2]}) is None
    assert mismatch({"a": [1]}, {"a": [1, 2]}) is not None
    assert mismatch({"a": "<any>"}, {"a": None}) is None
    assert mismatch({"a": 1}, {"a": True}) is not None
    assert mismatch({"a": {"b": 1}}, {"a": {}}) == "$.a.b: missing"


def test_every_readme_response_is_part_of_the_real_one(api: Any) -> None:
    ids: dict[str, str] = {}
    for status, method, path, body, expected in readme_examples():
        for name, value in ids.items():
            path = path.replace(f"<{name}>", value)
        response = api.request(method, path, json=body, timeout=90)
        where = f"{method} {path}"
        deadline = time.monotonic() + (SETTLE_SECONDS if method == "GET" else 0)
        while mismatch(expected, response.json()) and time.monotonic() < deadline:
            time.sleep(0.5)
            response = api.request(method, path, json=body, timeout=90)
        assert response.status_code == status, f"{where}: {response.text}"
        answer = response.json()
        if path == "/api/v1/jobs" and method == "POST" and status == 202:
            ids["job_id"] = answer["job_id"]
        if isinstance(answer.get("result"), dict) and "model_id" in answer["result"]:
            ids["model_id"] = answer["result"]["model_id"]
        problem = mismatch(expected, answer)
        if problem:
            pytest.fail(f"README example {where} differs from the service: {problem}")
