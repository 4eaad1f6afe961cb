"""The registry: model references, aliases with history, protection and a gate, tags, search."""

from __future__ import annotations

import pytest

from tests.unit.auth.conftest import bearer


@pytest.fixture
def versions(trained_model):
    """Three versions of ``churn`` (knn with 15, 1 and 5 neighbours)."""
    return [
        trained_model(model_name="churn", hyperparameters={"n_neighbors": k})["result"]
        for k in (15, 1, 5)
    ]


def test_every_reference_form_resolves(client, versions) -> None:
    first, _, third = versions
    assert client.get(f"/api/v1/models/{first['model_id']}").json["version"] == 1
    assert client.get("/api/v1/models/churn@v1").json["model_id"] == first["model_id"]
    assert client.get("/api/v1/models/churn@latest").json["model_id"] == third["model_id"]
    client.put("/api/v1/models/churn/aliases/staging", json={"version": 2})
    assert client.get("/api/v1/models/churn@staging").json["version"] == 2
    for missing in ("churn@v9", "churn@nope", "nobody@latest", "not-an-id"):
        response = client.get(f"/api/v1/models/{missing}")
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_moving_an_alias_is_recorded_in_its_history(client, versions) -> None:
    assert (
        client.put("/api/v1/models/churn/aliases/staging", json={"version": 1}).status_code == 200
    )
    moved = client.put("/api/v1/models/churn/aliases/staging", json={"version": 3}).json
    assert (moved["alias"], moved["version"]) == ("staging", 3)
    assert client.delete("/api/v1/models/churn/aliases/staging").status_code == 204
    assert client.get("/api/v1/models/churn/aliases").json["items"] == []
    history = client.get("/api/v1/models/churn/aliases?history=true").json["items"]
    assert [(h["from_version"], h["to_version"]) for h in history] == [(3, None), (1, 3), (None, 1)]
    assert all(h["by"] == "env:TENSORFLEET_ADMIN_KEY" for h in history)


@pytest.mark.parametrize("alias", ["latest", "v2", "bad name", "-x"])
def test_reserved_or_malformed_alias_names_are_400(client, versions, alias) -> None:
    response = client.put(f"/api/v1/models/churn/aliases/{alias}", json={"version": 1})
    assert response.status_code in (400, 404) and response.status_code != 500


def test_an_alias_to_a_missing_version_is_404(client, versions) -> None:
    assert (
        client.put("/api/v1/models/churn/aliases/staging", json={"version": 7}).status_code == 404
    )


def test_protected_aliases_need_the_admin_scope(client, anonymous, versions) -> None:
    trainer = client.post("/api/v1/keys", json={"name": "t", "scopes": ["read", "train"]}).json
    as_trainer = bearer(trainer["key"])
    refused = anonymous.put(
        "/api/v1/models/churn/aliases/champion", json={"version": 1}, headers=as_trainer
    )
    assert refused.status_code == 403 and refused.json["error"]["details"]["alias"] == "champion"
    ok = anonymous.put(
        "/api/v1/models/churn/aliases/staging", json={"version": 1}, headers=as_trainer
    )
    assert ok.status_code == 200
    assert (
        client.put("/api/v1/models/churn/aliases/champion", json={"version": 1}).status_code == 200
    )


def test_the_promotion_gate_refuses_a_worse_version_naming_both_scores(
    client, loaded_db, versions
) -> None:
    for version, f1 in ((1, 0.9), (2, 0.8), (3, 0.95)):
        loaded_db.models.update_one(
            {"name": "churn", "version": version}, {"$set": {"metrics.f1_macro": f1}}
        )
    client.put("/api/v1/models/churn/aliases/champion", json={"version": 1})
    gate = {"metric": "f1_macro", "min_delta": 0.0}
    refused = client.put("/api/v1/models/churn/aliases/champion", json={"version": 2, "gate": gate})
    assert refused.status_code == 409
    assert refused.json["error"]["details"] == {
        "candidate": 0.8,
        "current": 0.9,
        "metric": "f1_macro",
    }
    assert "0.8" in refused.json["error"]["message"] and "0.9" in refused.json["error"]["message"]
    assert client.get("/api/v1/models/churn@champion").json["version"] == 1  # unchanged
    strict = {"metric": "f1_macro", "min_delta": 0.1}
    assert (
        client.put(
            "/api/v1/models/churn/aliases/champion", json={"version": 3, "gate": strict}
        ).status_code
        == 409
    )
    moved = client.put("/api/v1/models/churn/aliases/champion", json={"version": 3, "gate": gate})
    assert moved.status_code == 200 and moved.json["version"] == 3
    bad_metric = client.put(
        "/api/v1/models/churn/aliases/champion", json={"version": 1, "gate": {"metric": "r2"}}
    )
    assert bad_metric.status_code == 400


def test_tags_and_description_are_set_merged_and_removed(client, versions) -> None:
    patched = client.patch(
        "/api/v1/models/churn@v1",
        json={"tags": {"team": "risk", "tier": "gold"}, "description": "d"},
    ).json
    assert patched["tags"] == {"team": "risk", "tier": "gold"} and patched["description"] == "d"
    again = client.patch("/api/v1/models/churn@v1", json={"tags": {"tier": None}}).json
    assert again["tags"] == {"team": "risk"} and again["description"] == "d"
    too_many = {f"k{i}": "v" for i in range(21)}
    assert client.patch("/api/v1/models/churn@v1", json={"tags": too_many}).status_code == 400
    assert client.patch("/api/v1/models/churn@v1", json={"tags": {"x": 1}}).status_code == 400


def test_search_by_alias_tag_score_and_time_shows_aliases_and_tags(client, versions) -> None:
    client.put("/api/v1/models/churn/aliases/staging", json={"version": 2})
    client.patch("/api/v1/models/churn@v3", json={"tags": {"team": "risk"}})
    by_alias = client.get("/api/v1/models?alias=staging").json["items"]
    assert [(m["version"], m["aliases"]) for m in by_alias] == [(2, ["staging"])]
    by_tag = client.get("/api/v1/models?tag.team=risk").json["items"]
    assert [(m["version"], m["tags"]) for m in by_tag] == [(3, {"team": "risk"})]
    best = max(v["metrics"]["test_accuracy"] for v in versions)
    top = client.get(f"/api/v1/models?name=churn&min_score={best}").json["items"]
    assert top and all(m["score"] >= best for m in top)
    assert client.get("/api/v1/models?created_after=2999-01-01T00:00:00Z").json["total"] == 0
    assert client.get("/api/v1/models?colour=red").status_code == 400


def test_a_version_an_alias_points_at_cannot_be_deleted(client, versions) -> None:
    client.put("/api/v1/models/churn/aliases/staging", json={"version": 2})
    refused = client.delete("/api/v1/models/churn@v2")
    assert refused.status_code == 409 and refused.json["error"]["details"]["aliases"] == ["staging"]
    client.put("/api/v1/models/churn/aliases/staging", json={"version": 3})
    assert client.delete("/api/v1/models/churn@v2").status_code == 204
    assert client.get("/api/v1/models/churn@v2").status_code == 404
