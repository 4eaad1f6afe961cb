"""Datasets, algorithms, health, errors and the OpenAPI document."""

from __future__ import annotations

import io

import fakeredis
import pytest


def upload(client, content: bytes, name: str = "toy", target: str = "label", **extra):
    data = {"file": (io.BytesIO(content), "toy.csv"), "name": name, "target": target, **extra}
    return client.post("/api/v1/datasets", data=data, content_type="multipart/form-data")


TOY = b"a,b,label\n" + b"".join(
    f"{i},{i % 3},{'yes' if i % 2 else 'no'}\n".encode() for i in range(40)
)


def test_upload_creates_versions_and_records_profile(client) -> None:
    first = upload(client, TOY, description="toy data")
    assert first.status_code == 201, first.json
    body = first.json
    assert (body["name"], body["version"], body["task"]) == ("toy", 1, "classification")
    assert body["n_samples"] == 40 and body["target"] == "label" and len(body["sha256"]) == 64
    assert upload(client, TOY).json["version"] == 2
    assert client.get("/api/v1/datasets/toy").json["version"] == 2
    assert client.get("/api/v1/datasets/toy?version=1").json["description"] == "toy data"


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


def test_algorithms_are_described_from_sklearn(client) -> None:
    items = {a["name"]: a for a in client.get("/api/v1/algorithms").json["items"]}
    assert {
        "random_forest",
        "decision_tree",
        "svm",
        "gradient_boosting",
        "knn",
        "logistic_regression",
        "linear_regression",
        "ridge",
    } <= set(items)
    assert items["logistic_regression"]["tasks"] == ["classification"]
    n_estimators = items["random_forest"]["hyperparameters"]["n_estimators"]
    assert n_estimators["default"] == 100 and n_estimators["max"] == 2000


def test_health_and_ready(client, monkeypatch) -> None:
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/ready").status_code == 200


def test_ready_names_what_is_down(client, app) -> None:
    server = fakeredis.FakeServer()
    server.connected = False  # every command now raises ConnectionError
    app.extensions["tensorfleet.redis"] = fakeredis.FakeRedis(server=server)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["error"]["details"]["down"] == ["redis"]


def test_unknown_route_and_wrong_method_are_json(client) -> None:
    assert client.get("/api/v1/nothing").json["error"]["code"] == "not_found"
    response = client.delete("/api/v1/jobs")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"


def test_openapi_document_lists_every_endpoint(client) -> None:
    paths = client.get("/api/v1/docs/openapi.json").json["paths"]
    for path in (
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/datasets",
        "/api/v1/models/{model_id}/download",
        "/api/v1/statistics",
        "/api/v1/algorithms",
        "/health",
        "/ready",
    ):
        assert path in paths
    assert client.get("/api/v1/docs/swagger/").status_code == 200


def test_root_and_docs_path_redirect_to_interactive_docs(client) -> None:
    for path in ("/", "/api/v1/docs"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/api/v1/docs/swagger/"
