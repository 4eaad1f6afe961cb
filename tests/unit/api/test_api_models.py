"""/api/v1/models on mongomock + fakeredis (models trained by a direct run)."""

from __future__ import annotations

import hashlib


def test_download_streams_the_artifact_with_its_versioned_filename(client, trained_model) -> None:
    job = trained_model(model_name="dl")
    model_id = job["result"]["model_id"]
    model = client.get(f"/api/v1/models/{model_id}").json
    response = client.get(f"/api/v1/models/{model_id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=dl-v1.joblib"
    assert hashlib.sha256(response.data).hexdigest() == model["sha256"]
    assert int(response.headers["Content-Length"]) == model["size_bytes"] == len(response.data)


def test_delete_removes_document_and_file(client, loaded_db, trained_model) -> None:
    model_id = trained_model()["result"]["model_id"]
    assert client.delete(f"/api/v1/models/{model_id}").status_code == 204
    assert client.get(f"/api/v1/models/{model_id}").status_code == 404
    assert client.get(f"/api/v1/models/{model_id}/download").status_code == 404
    assert loaded_db["fs.files"].count_documents({"metadata.kind": "model"}) == 0


def test_model_list_filters_and_sorts(client, trained_model) -> None:
    trained_model(model_name="a")
    trained_model(model_name="a", hyperparameters={"n_neighbors": 1})
    trained_model(model_name="b")
    listing = client.get("/api/v1/models?name=a&sort=-version").json
    assert listing["total"] == 2 and [m["version"] for m in listing["items"]] == [2, 1]
    assert client.get("/api/v1/models?sort=bogus").status_code == 400


def test_a_model_records_its_headline_score_and_lineage(client, trained_model) -> None:
    model_id = trained_model(model_name="lineage")["result"]["model_id"]
    model = client.get(f"/api/v1/models/{model_id}").json
    assert model["score"] == model["metrics"]["test_accuracy"]
    assert (model["dataset_name"], model["dataset_version"], model["task"]) == (
        "iris",
        1,
        "classification",
    )
    assert model["download_url"] == f"/api/v1/models/{model_id}/download"
    assert {"sklearn_version", "pandas_version", "python_version"} <= set(model)
