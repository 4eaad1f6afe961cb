"""The model registry over HTTP: list, filter, paginate, sort, get, delete, statistics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localstack import LocalStack
from tests.integration.helpers import (
    api_client,
    assert_error,
    chunks_of,
    download,
    models_of,
    mongo,
    submit,
    submit_and_wait,
    unique,
    wait_job,
)


@pytest.fixture(scope="module")
def trained(stack: LocalStack) -> Iterator[dict[str, Any]]:
    """Three models: ``forest`` v1 and v2 (random forest on iris), ``knn`` v1 (knn on wine)."""
    forest, knn = unique("registry-forest"), unique("registry-knn")
    with api_client(stack.api_url) as api:
        first = submit(
            api,
            dataset="iris",
            algorithm="random_forest",
            model_name=forest,
            hyperparameters={"n_estimators": 5},
        )
        other = submit(api, dataset="wine", algorithm="knn", model_name=knn)
        jobs = [wait_job(api, first["job_id"]), wait_job(api, other["job_id"])]
        # v2 after v1 has committed, so that creation order is version order
        second = submit_and_wait(
            api,
            dataset="iris",
            algorithm="random_forest",
            model_name=forest,
            hyperparameters={"n_estimators": 30},
        )
        jobs.append(second)
    assert [job["status"] for job in jobs] == ["succeeded"] * 3, jobs
    yield {
        "forest": forest,
        "knn": knn,
        "forest_ids": [jobs[0]["result"]["model_id"], jobs[2]["result"]["model_id"]],
        "knn_id": jobs[1]["result"]["model_id"],
    }


def ids(page: dict[str, Any]) -> list[str]:
    return [item["model_id"] for item in page["items"]]


def test_list_filters_by_name_algorithm_and_dataset(api: Any, trained: dict[str, Any]) -> None:
    forest, knn = trained["forest"], trained["knn"]
    page = models_of(api, name=forest)
    assert page["total"] == 2
    assert set(ids(page)) == set(trained["forest_ids"])
    assert models_of(api, name=forest, algorithm="random_forest")["total"] == 2
    assert models_of(api, name=forest, algorithm="knn")["total"] == 0
    assert models_of(api, name=forest, dataset="iris")["total"] == 2
    assert models_of(api, name=forest, dataset="wine")["total"] == 0
    assert ids(models_of(api, name=knn, dataset="wine", algorithm="knn")) == [trained["knn_id"]]
    by_algorithm = models_of(api, algorithm="knn", limit=100)
    assert trained["knn_id"] in ids(by_algorithm)
    assert {item["algorithm"] for item in by_algorithm["items"]} == {"knn"}
    by_dataset = models_of(api, dataset="wine", limit=100)
    assert trained["knn_id"] in ids(by_dataset)
    assert {item["dataset_name"] for item in by_dataset["items"]} == {"wine"}
    assert models_of(api, name=unique("nobody"))["total"] == 0


def test_pagination(api: Any, trained: dict[str, Any]) -> None:
    forest = trained["forest"]
    pages = [models_of(api, name=forest, limit=1, page=n, sort="created_at") for n in (1, 2, 3)]
    assert [(p["page"], p["limit"], p["total"]) for p in pages] == [(1, 1, 2), (2, 1, 2), (3, 1, 2)]
    assert [ids(p) for p in pages] == [trained["forest_ids"][:1], trained["forest_ids"][1:], []]
    everything = models_of(api, limit=100)
    assert everything["total"] >= 3 and len(everything["items"]) == min(everything["total"], 100)
    for params in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"page": "x"}):
        assert_error(api.get("/api/v1/models", params=params), 400, "validation_error")


def test_sort_orders(api: Any, trained: dict[str, Any]) -> None:
    forest = trained["forest"]
    versions = {
        sort: [m["version"] for m in models_of(api, name=forest, sort=sort)["items"]]
        for sort in ("-created_at", "created_at", "-version", "name")
    }
    assert versions == {
        "-created_at": [2, 1],
        "created_at": [1, 2],
        "-version": [2, 1],
        "name": [2, 1],
    }
    for sort, descending in (("-score", True), ("score", False)):
        scores = [
            m["metrics"]["test_accuracy"] for m in models_of(api, name=forest, sort=sort)["items"]
        ]
        assert scores == sorted(scores, reverse=descending), (sort, scores)
    names = [m["name"] for m in models_of(api, sort="name", limit=100)["items"]]
    assert names == sorted(names)
    assert_error(api.get("/api/v1/models", params={"sort": "size"}), 400, "validation_error")


def test_get_one_model(api: Any, trained: dict[str, Any]) -> None:
    model_id = trained["knn_id"]
    response = api.get(f"/api/v1/models/{model_id}")
    assert response.status_code == 200, response.text
    model = response.json()
    listed = models_of(api, name=trained["knn"])["items"]
    assert "curves" in model and listed == [{k: v for k, v in model.items() if k != "curves"}]
    assert (model["name"], model["version"], model["algorithm"]) == (trained["knn"], 1, "knn")
    assert model["hyperparameters"]["n_neighbors"] == 5  # the effective default
    assert_error(api.get("/api/v1/models/0123456789abcdef01234567"), 404, "not_found")
    assert_error(api.get("/api/v1/models/not-an-id"), 404, "not_found")


def test_delete_removes_document_and_file_and_the_version_is_not_reused(
    api: Any, stack: LocalStack
) -> None:
    name = unique("deleted")
    job = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=name)
    model = api.get(f"/api/v1/models/{job['result']['model_id']}").json()
    file_id = model["file_id"]
    with mongo(stack) as db:
        assert db["fs.files"].find_one({"_id": file_id}) is not None
        assert chunks_of(db, file_id)

    response = api.delete(f"/api/v1/models/{model['model_id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(f"/api/v1/models/{model['model_id']}"), 404, "not_found")
    assert_error(download(api, model["model_id"]), 404, "not_found")
    assert_error(api.delete(f"/api/v1/models/{model['model_id']}"), 404, "not_found")
    assert models_of(api, name=name)["total"] == 0
    with mongo(stack) as db:
        assert db["fs.files"].find_one({"_id": file_id}) is None
        assert chunks_of(db, file_id) == []
    # The job still tells what it produced; a new job of that name gets version 2.
    assert api.get(f"/api/v1/jobs/{job['job_id']}").json()["status"] == "succeeded"
    again = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=name)
    assert again["result"]["version"] == 2


def statistics(api: Any) -> dict[str, Any]:
    response = api.get("/api/v1/statistics")
    assert response.status_code == 200, response.text
    return response.json()


def test_statistics_reflect_models_and_jobs(api: Any) -> None:
    job = submit_and_wait(api, dataset="wine", algorithm="knn", model_name=unique("stats"))
    assert job["status"] == "succeeded", job
    stats = statistics(api)
    models = stats["models"]
    assert models["total"] == models_of(api)["total"]
    assert sum(models["by_algorithm"].values()) == models["total"]
    assert sum(models["by_dataset"].values()) == models["total"]
    assert models["by_algorithm"]["knn"] == models_of(api, algorithm="knn")["total"]
    assert models["by_dataset"]["wine"] == models_of(api, dataset="wine")["total"]
    scores = models["scores"]
    for algorithm, count in models["by_algorithm"].items():
        per_task = [scores[task].get(algorithm, {}).get("count", 0) for task in scores]
        assert sum(per_task) == count, (algorithm, scores)
    knn = scores["classification"]["knn"]
    assert knn["metric"] == "test_accuracy"
    assert 0 <= knn["mean"] <= knn["best"] <= 1
    by_status = stats["jobs"]["by_status"]
    assert set(by_status) == {"queued", "running", "succeeded", "failed", "cancelled"}
    for status, count in by_status.items():
        assert count == api.get("/api/v1/jobs", params={"status": status}).json()["total"]

    # Deleting one knn model of wine moves those counts by exactly one.
    assert api.delete(f"/api/v1/models/{job['result']['model_id']}").status_code == 204
    after = statistics(api)["models"]
    assert after["total"] == models["total"] - 1
    assert after["by_algorithm"].get("knn", 0) == models["by_algorithm"]["knn"] - 1
    assert after["by_dataset"].get("wine", 0) == models["by_dataset"]["wine"] - 1
    unchanged = {k: v for k, v in models["by_algorithm"].items() if k != "knn"}
    assert {k: v for k, v in after["by_algorithm"].items() if k != "knn"} == unchanged
