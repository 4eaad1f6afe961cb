"""Page/limit pagination shared by every list endpoint (``Page``, with the match count) and
by the web UI's lists (``Window``: whether another page follows, from one extra document,
so a page costs the same however many documents match)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.collection import Collection


@dataclass
class Page:
    """One page of documents and the total that match."""

    items: list[dict[str, Any]]
    page: int
    limit: int
    total: int

    def as_json(self, render: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """``{"items", "page", "limit", "total"}`` with each item rendered by ``render``."""
        items = [render(item) for item in self.items]
        return {"items": items, "page": self.page, "limit": self.limit, "total": self.total}


def find_page(
    collection: Collection,
    query: dict[str, Any],
    sort: list[tuple[str, int]],
    page: int,
    limit: int,
    projection: dict[str, Any] | None = None,
) -> Page:
    """Documents ``(page - 1) * limit`` onwards in ``sort`` order, with the match count
    (``projection``: MongoDB's, e.g. ``{"big_field": 0}``)."""
    total = collection.count_documents(query)
    cursor = collection.find(query, projection).sort(sort).skip((page - 1) * limit).limit(limit)
    return Page(items=list(cursor), page=page, limit=limit, total=total)


@dataclass
class Window:
    """One page of documents and whether another page follows (no count of the matches)."""

    items: list[dict[str, Any]]
    page: int
    limit: int
    has_next: bool


def find_window(
    collection: Collection,
    query: dict[str, Any],
    sort: list[tuple[str, int]],
    page: int,
    limit: int,
    projection: dict[str, Any] | None = None,
) -> Window:
    """Documents ``(page - 1) * limit`` onwards in ``sort`` order, reading one more than
    ``limit`` to learn whether a next page exists (``projection`` as in ``find_page``)."""
    skip = (page - 1) * limit
    docs = list(collection.find(query, projection).sort(sort).skip(skip).limit(limit + 1))
    return Window(items=docs[:limit], page=page, limit=limit, has_next=len(docs) > limit)
