"""Resolved model references are reused for at most their time to live."""

from __future__ import annotations

import contextlib
import time

from app.serving.cache import ReferenceCache


def test_a_reference_is_resolved_again_after_its_ttl() -> None:
    calls: list[int] = []

    def resolve() -> dict:
        calls.append(1)
        return {"_id": f"m{len(calls)}"}

    refs = ReferenceCache(ttl=0.2)
    assert refs.get("iris@champion", resolve) == {"_id": "m1"}
    assert refs.get("iris@champion", resolve) == {"_id": "m1"} and len(calls) == 1
    time.sleep(0.25)
    assert refs.get("iris@champion", resolve) == {"_id": "m2"}
    refs.clear()
    assert refs.get("iris@champion", resolve) == {"_id": "m3"}


def test_an_unknown_reference_is_not_cached() -> None:
    refs, calls = ReferenceCache(), []

    def missing() -> dict:
        calls.append(1)
        raise LookupError("no such model")

    for _ in range(2):
        with contextlib.suppress(LookupError):
            refs.get("ghost@latest", missing)
    assert len(calls) == 2
