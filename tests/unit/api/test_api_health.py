"""/health and /ready."""

from __future__ import annotations

import fakeredis


def test_health_and_ready(client) -> None:
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/ready").status_code == 200


def test_ready_names_what_is_down(client, app) -> None:
    server = fakeredis.FakeServer()
    server.connected = False  # every command now raises ConnectionError
    app.extensions["tensorfleet.redis"] = fakeredis.FakeRedis(server=server)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["error"]["details"]["down"] == ["redis"]
