"""Fixtures of the access-control tests: keys of each scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def make_key(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """``make_key(*scopes, **fields)``: create a key through the API (as admin)."""

    def make(*scopes: str, **fields: Any) -> dict[str, Any]:
        body = {
            "name": fields.pop("name", "-".join(scopes) or "k"),
            "scopes": list(scopes),
            **fields,
        }
        response = client.post("/api/v1/keys", json=body)
        assert response.status_code == 201, response.json
        return response.json

    return make


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}
