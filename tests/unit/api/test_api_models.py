"""/api/v1/models on mongomock + fakeredis (models trained by a direct run)."""

from __future__ import annotations

import base64
import hashlib
import os
import pickle


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


def test_download_carries_the_files_sha256(client, trained_model) -> None:
    model_id = trained_model(model_name="digest")["result"]["model_id"]
    response = client.get(f"/api/v1/models/{model_id}/download")
    sha = hashlib.sha256(response.data).hexdigest()
    assert response.headers["X-Checksum-SHA256"] == sha
    expected = base64.b64encode(bytes.fromhex(sha)).decode()
    assert response.headers["Repr-Digest"] == f"sha-256=:{expected}:"


def test_a_model_file_changed_in_storage_is_refused_and_quarantined(
    client, loaded_db, trained_model
) -> None:
    model_id = trained_model(model_name="evil")["result"]["model_id"]
    model = loaded_db.models.find_one({"_id": model_id})
    marker_pickle = pickle.dumps(os.system)  # what an attacker would plant
    loaded_db["fs.chunks"].update_one(
        {"files_id": model["file_id"], "n": 0}, {"$set": {"data": marker_pickle}}
    )
    response = client.get(f"/api/v1/models/{model_id}/download")
    assert response.status_code == 409 and response.json["error"]["code"] == "integrity_error"
    assert b"posix" not in response.data and b"system" not in response.data
    assert loaded_db.models.find_one({"_id": model_id})["quarantined"]["reason"]
    assert loaded_db.audit.count_documents({"event": "integrity_failure"}) == 1
    again = client.get(f"/api/v1/models/{model_id}/download")
    assert again.status_code == 409 and "quarantined" in again.json["error"]["message"]


def test_a_binary_model_has_its_curves_and_listings_leave_them_out(client, trained_model) -> None:
    job = trained_model(dataset="breast_cancer", algorithm="random_forest", model_name="curvy",
                        hyperparameters={"n_estimators": 10})  # fmt: skip
    model = client.get(f"/api/v1/models/{job['result']['model_id']}").json
    assert {"roc", "pr"} <= set(model["curves"]) and model["feature_importances"]
    listed = client.get("/api/v1/models?name=curvy").json["items"]
    assert listed[0]["model_id"] == model["model_id"] and "curves" not in listed[0]
    assert listed[0]["feature_importances"] == model["feature_importances"]
