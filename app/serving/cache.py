"""The model cache of a serving process: least recently used, bounded by bytes.

Each model is loaded once per engine (its joblib Pipeline, its ONNX session), even
when many requests ask for it at the same time (a lock per entry); an entry is
counted at its file's size. Models are immutable, so an entry never goes stale; aliases are resolved
before the cache, on every request, so an alias move takes effect at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.metrics import MODEL_CACHE_BYTES, MODEL_CACHE_EVENTS


class ModelCache:
    """``get(model, load, engine)``: the loaded ``engine`` copy of ``model`` (a document),
    loading it once."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.bytes = 0

    def get(self, model: dict[str, Any], load: Callable[[], Any], engine: str = "sklearn") -> Any:
        """The loaded ``model``; ``load()`` runs only if it is not cached (once at a time)."""
        key = f"{model['_id']}:{engine}"
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                MODEL_CACHE_EVENTS.labels("hit").inc()
                return self._entries[key][0]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:  # loaded by another thread while we waited
                if key in self._entries:
                    MODEL_CACHE_EVENTS.labels("hit").inc()
                    return self._entries[key][0]
            MODEL_CACHE_EVENTS.labels("miss").inc()
            value = load()
            file = (model.get("formats") or {}).get(engine) or model
            self._put(key, value, int(file.get("size_bytes") or 0))
        with self._lock:
            self._loading.pop(key, None)
        return value

    def _put(self, key: str, value: Any, size: int) -> None:
        with self._lock:
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.bytes -= evicted
                MODEL_CACHE_EVENTS.labels("eviction").inc()
            MODEL_CACHE_BYTES.set(self.bytes)

    def __contains__(self, key: str) -> bool:
        """Whether ``"<model id>:<engine>"`` is loaded."""
        with self._lock:
            return key in self._entries


class ReferenceCache:
    """Model references (``name@alias`` …) resolved at most ``ttl`` seconds ago.

    An alias move, a new ``@latest`` or a deleted version is seen within ``ttl`` (one
    second by default), and a hot predict path makes no MongoDB read per request. Unknown
    references are not cached (the error is raised again next time).
    """

    def __init__(self, ttl: float = 1.0, max_entries: int = 4096) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, ref: str, resolve: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The model document ``ref`` names, from ``resolve()`` if not seen within ``ttl``."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(ref)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        model = resolve()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # cheap and rare: refilled within a second
            self._entries[ref] = (now, model)
        return model

    def clear(self) -> None:
        """Forget every reference (this process changed the registry: see it at once)."""
        with self._lock:
            self._entries.clear()
