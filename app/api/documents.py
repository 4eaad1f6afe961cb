"""MongoDB documents → the JSON the API returns (ids renamed, internals dropped)."""

from __future__ import annotations

from typing import Any

from app.storage.pagination import Page

_JOB_INTERNAL = ("_id", "cancel_requested", "queue")
_DATASET_INTERNAL = ("_id", "file_id")


def job_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A job as clients see it."""
    body = {key: value for key, value in doc.items() if key not in _JOB_INTERNAL}
    return {"job_id": doc["_id"], **body}


def model_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A model's metadata, with a link to download its artifact."""
    body = {key: value for key, value in doc.items() if key not in ("_id", "file_id")}
    return {
        "model_id": doc["_id"],
        **body,
        "file_id": str(doc["file_id"]),
        "download_url": f"/api/v1/models/{doc['_id']}/download",
    }


def dataset_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A dataset version's metadata."""
    return {key: value for key, value in doc.items() if key not in _DATASET_INTERNAL}


def page_json(page: Page, render: Any) -> dict[str, Any]:
    """``{"items", "page", "limit", "total"}`` with each item rendered."""
    return {
        "items": [render(item) for item in page.items],
        "page": page.page,
        "limit": page.limit,
        "total": page.total,
    }
