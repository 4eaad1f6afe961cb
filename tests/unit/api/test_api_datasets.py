"""/api/v1/datasets: versioned uploads, their profile, and every bad upload refused."""

from __future__ import annotations

import pytest

from tests.unit.api.helpers import TOY, upload


def test_upload_creates_versions_and_records_profile(client) -> None:
    first = upload(client, TOY, description="toy data")
    assert first.status_code == 201, first.json
    body = first.json
    assert (body["name"], body["version"], body["task"]) == ("toy", 1, "classification")
    assert body["n_samples"] == 40 and body["target"] == "label" and len(body["sha256"]) == 64
    assert first.headers["Location"] == "/api/v1/datasets/toy?version=1"
    assert upload(client, TOY).json["version"] == 2
    assert client.get("/api/v1/datasets/toy").json["version"] == 2
    assert client.get("/api/v1/datasets/toy?version=1").json["description"] == "toy data"


def test_upload_records_every_column_as_a_possible_target(client) -> None:
    targets = upload(client, TOY).json["targets"]
    assert targets["label"] == {
        "task": "classification",
        "n_samples": 40,
        "n_classes": 2,
        "classes": ["no", "yes"],
        "class_counts": [20, 20],
    }
    assert targets["b"]["task"] == "classification" and targets["b"]["class_counts"] == [14, 13, 13]
    assert targets["a"] == {"task": "regression", "n_samples": 40}


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", 400),
        (b"a,b,label\n", 400),
        (b"a,b,label\n1,2,x\n3,4\n5,6,y,7\n", 400),
        (b"a,b,c\n1,2,3\n4,5,6\n", 400),  # no target column
        (b"a,label\n1,x\n2,x\n3,x\n", 400),  # one class
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 415),
    ],
)
def test_bad_uploads_are_rejected_and_store_nothing(client, loaded_db, content, status) -> None:
    before = loaded_db.datasets.count_documents({})
    response = upload(client, content)
    assert response.status_code == status, response.json
    assert loaded_db.datasets.count_documents({}) == before
    assert loaded_db["fs.files"].count_documents({"metadata.dataset": "toy"}) == 0


def test_upload_over_the_size_limit_is_413(client, app) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(client, TOY * 10)
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"


def test_builtin_datasets_are_listed(client) -> None:
    names = [d["name"] for d in client.get("/api/v1/datasets").json["items"]]
    assert names == ["breast_cancer", "diabetes", "digits", "iris", "wine"]
    iris = client.get("/api/v1/datasets/iris").json
    assert iris["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert iris["target"] == "species" and iris["task"] == "classification"
    assert client.get("/api/v1/datasets/diabetes").json["task"] == "regression"
    assert client.get("/api/v1/datasets/nope").status_code == 404


def test_versions_are_listed_newest_first(client) -> None:
    upload(client, TOY)
    upload(client, TOY)
    page = client.get("/api/v1/datasets/toy/versions").json
    assert [d["version"] for d in page["items"]] == [2, 1] and page["total"] == 2
    assert client.get("/api/v1/datasets/nope/versions").status_code == 404


def test_uploading_over_a_builtin_name_is_409_and_changes_nothing(client, loaded_db) -> None:
    before = loaded_db.datasets.count_documents({"name": "iris"})
    response = upload(client, TOY, name="iris")
    assert response.status_code == 409 and "built-in" in response.json["error"]["message"]
    assert loaded_db.datasets.count_documents({"name": "iris"}) == before


def test_an_admin_deletes_a_dataset_and_its_models_keep_its_metadata(
    client, loaded_db, run_job
) -> None:
    upload(client, TOY)
    upload(client, TOY)
    job = client.post("/api/v1/jobs", json={"dataset": "toy", "algorithm": "knn"}).json
    assert client.delete("/api/v1/datasets/toy").status_code == 409  # a queued job uses it
    run_job(job["job_id"])
    assert client.delete("/api/v1/datasets/toy?version=1").status_code == 204
    assert client.get("/api/v1/datasets/toy?version=1").status_code == 404
    assert client.delete("/api/v1/datasets/toy").status_code == 204
    assert client.get("/api/v1/datasets/toy").status_code == 404
    assert loaded_db["fs.files"].count_documents({"metadata.dataset": "toy"}) == 0
    model = loaded_db.models.find_one({"job_id": job["job_id"]})
    assert (model["dataset_name"], model["dataset_version"]) == ("toy", 2)


def test_builtins_cannot_be_deleted(client) -> None:
    response = client.delete("/api/v1/datasets/iris")
    assert response.status_code == 409
    assert client.delete("/api/v1/datasets/nope").status_code == 404
