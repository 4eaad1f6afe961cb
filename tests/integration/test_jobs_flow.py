"""Training jobs end to end over HTTP: submit, wait, download, predict; versions; cancelling."""

from __future__ import annotations

import hashlib
import platform
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
import sklearn

from localstack import LocalStack
from localstack.config import PROJECT_DIR
from tests.integration.helpers import (
    SLOW_JOB,
    assert_error,
    cancel,
    cancel_quietly,
    download,
    get_job,
    model_files,
    models_of,
    mongo,
    predict_in_fresh_process,
    submit,
    submit_and_wait,
    unique,
    upload_dataset,
    wait_job,
    wait_running,
)

DATASETS = PROJECT_DIR / "datasets"
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
CANCEL_TIMEOUT = 30.0

JOB_FIELDS = {
    "job_id", "status", "dataset", "dataset_version", "algorithm", "model_name",
    "hyperparameters", "progress", "created_at", "started_at", "finished_at", "attempts",
    "worker", "result", "error",
}  # fmt: skip
MODEL_FIELDS = {
    "model_id", "name", "version", "algorithm", "hyperparameters", "metrics", "dataset_name",
    "dataset_version", "features", "target", "classes", "task", "job_id", "file_id", "sha256",
    "size_bytes", "sklearn_version", "python_version", "created_at", "download_url",
}  # fmt: skip
CLASSIFICATION_METRICS = {
    "test_accuracy", "train_accuracy", "precision_macro", "recall_macro", "f1_macro",
    "precision_weighted", "recall_weighted", "f1_weighted", "confusion_matrix", "roc_auc",
    "training_time", "n_train", "n_test",
}  # fmt: skip
REGRESSION_METRICS = {"r2", "rmse", "mae", "training_time", "n_train", "n_test"}


def when(value: str) -> datetime:
    """A timestamp of the API: ISO 8601 in UTC with a ``Z``."""
    assert isinstance(value, str) and ISO_Z.match(value), value
    return datetime.fromisoformat(value)


def effective_defaults(api: Any, algorithm: str, task: str) -> dict[str, Any]:
    """Every hyperparameter ``GET /algorithms/<name>`` lists for ``task``, with its default."""
    response = api.get(f"/api/v1/algorithms/{algorithm}")
    assert response.status_code == 200, response.text
    defaults = {}
    for name, entry in response.json()["hyperparameters"].items():
        if task in entry["tasks"]:
            defaults[name] = (
                entry["by_task"][task]["default"] if "by_task" in entry else entry["default"]
            )
    return defaults


def test_iris_job_round_trip_to_a_model_loaded_in_a_fresh_process(api: Any, tmp_path: Path) -> None:
    name = unique("iris-rf")
    body = {"n_estimators": 25, "max_depth": 5}
    queued = submit(
        api, dataset="iris", algorithm="random_forest", model_name=name, hyperparameters=body
    )
    assert queued["progress"] == {"stage": "queued", "percent": 0}
    assert queued["attempts"] == 0 and queued["started_at"] is None
    job = wait_job(api, queued["job_id"])

    # -- the job document
    assert set(job) >= JOB_FIELDS, JOB_FIELDS - set(job)
    assert not {"_id", "cancel_requested", "queue"} & set(job)  # internals stay inside
    assert (job["target"], job["task"]) == ("species", "classification")
    assert (job["test_size"], job["random_state"]) == (0.2, 42)
    assert job["status"] == "succeeded", job
    assert job["error"] is None
    assert (job["dataset"], job["algorithm"], job["model_name"]) == ("iris", "random_forest", name)
    iris = api.get("/api/v1/datasets/iris").json()
    assert job["dataset_version"] == iris["version"]
    expected_params = effective_defaults(api, "random_forest", "classification") | body
    assert job["hyperparameters"] == expected_params  # the full effective set
    assert job["progress"] == {"stage": "done", "percent": 100}
    created, started, finished = (when(job[k]) for k in ("created_at", "started_at", "finished_at"))
    assert created <= started <= finished
    assert job["attempts"] == 1
    assert re.match(r"^worker[01]@", job["worker"]), job["worker"]
    result = job["result"]
    assert set(result) == {"model_id", "version", "metrics"}
    assert result["version"] == 1
    assert set(CLASSIFICATION_METRICS) <= set(result["metrics"])

    # -- listing by model name and status finds it
    listed = api.get("/api/v1/jobs", params={"model_name": name, "status": "succeeded"}).json()
    assert [item["job_id"] for item in listed["items"]] == [job["job_id"]]

    # -- the model document
    response = api.get(f"/api/v1/models/{result['model_id']}")
    assert response.status_code == 200, response.text
    model = response.json()
    assert set(model) >= MODEL_FIELDS, MODEL_FIELDS - set(model)
    assert model["model_id"] == result["model_id"]
    assert (model["name"], model["version"], model["algorithm"]) == (name, 1, "random_forest")
    assert model["hyperparameters"] == expected_params
    assert model["metrics"] == result["metrics"]
    assert (model["dataset_name"], model["dataset_version"]) == ("iris", job["dataset_version"])
    assert model["features"] == IRIS_FEATURES
    assert model["target"] == "species"
    assert model["classes"] == ["setosa", "versicolor", "virginica"]
    assert model["task"] == "classification"
    assert model["job_id"] == job["job_id"]
    assert model["file_id"] == f"model:{job['job_id']}:1"  # per-try artifact id
    assert re.fullmatch(r"[0-9a-f]{64}", model["sha256"])
    assert model["sklearn_version"] == sklearn.__version__
    assert model["python_version"] == platform.python_version()
    assert started <= when(model["created_at"]) <= finished
    assert model["download_url"] == f"/api/v1/models/{model['model_id']}/download"

    # -- the artifact
    response = download(api, model["model_id"])
    assert response.status_code == 200, response.text
    filename = f"{name}-v1.joblib"
    assert response.headers["Content-Disposition"] == f"attachment; filename={filename}"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert len(response.content) == model["size_bytes"] > 0
    assert hashlib.sha256(response.content).hexdigest() == model["sha256"]
    path = tmp_path / filename
    path.write_bytes(response.content)

    # -- a fresh interpreter, without TensorFleet, predicts species names
    predictions = predict_in_fresh_process(path, DATASETS / "iris.csv", IRIS_FEATURES, tmp_path)
    labels = pd.read_csv(DATASETS / "iris.csv")["species"].tolist()
    assert len(predictions) == len(labels) == 150
    assert set(predictions) == set(model["classes"])
    accuracy = sum(p == y for p, y in zip(predictions, labels, strict=True)) / len(labels)
    assert accuracy >= 0.9, accuracy


def test_binary_classification_metrics(api: Any) -> None:
    job = submit_and_wait(
        api,
        dataset="breast_cancer",
        algorithm="logistic_regression",
        model_name=unique("bc-logreg"),
        hyperparameters={"max_iter": 1000},
    )
    assert job["status"] == "succeeded", job
    metrics = job["result"]["metrics"]
    assert set(metrics) >= CLASSIFICATION_METRICS
    for key in CLASSIFICATION_METRICS - {"confusion_matrix", "n_train", "n_test"}:
        assert isinstance(metrics[key], float) and metrics[key] >= 0, (key, metrics[key])
    for key in CLASSIFICATION_METRICS - {"confusion_matrix", "n_train", "n_test", "training_time"}:
        assert metrics[key] <= 1, (key, metrics[key])
    assert metrics["test_accuracy"] > 0.9 and metrics["roc_auc"] > 0.9
    assert metrics["n_train"] + metrics["n_test"] == 569
    assert metrics["n_test"] == pytest.approx(569 * 0.2, abs=1)
    matrix = metrics["confusion_matrix"]
    assert len(matrix) == 2 and all(len(row) == 2 for row in matrix)
    assert sum(map(sum, matrix)) == metrics["n_test"]


@pytest.mark.parametrize(
    ("algorithm", "hyperparameters"), [("ridge", {"alpha": 0.5}), ("linear_regression", {})]
)
def test_regression_metrics_on_diabetes(
    api: Any, algorithm: str, hyperparameters: dict[str, Any]
) -> None:
    job = submit_and_wait(
        api,
        dataset="diabetes",
        algorithm=algorithm,
        model_name=unique(f"diabetes-{algorithm}"),
        hyperparameters=hyperparameters,
        test_size=0.25,
    )
    assert job["status"] == "succeeded", job
    metrics = job["result"]["metrics"]
    assert set(metrics) >= REGRESSION_METRICS, metrics
    assert not {"test_accuracy", "confusion_matrix", "roc_auc"} & set(metrics)
    assert 0.2 < metrics["r2"] < 1
    assert 0 < metrics["mae"] <= metrics["rmse"]
    assert metrics["training_time"] >= 0
    assert metrics["n_train"] + metrics["n_test"] == 442
    assert metrics["n_test"] == pytest.approx(442 * 0.25, abs=1)
    model = api.get(f"/api/v1/models/{job['result']['model_id']}").json()
    assert model["task"] == "regression" and model["classes"] is None
    assert model["target"] == "progression"


def test_two_concurrent_jobs_of_one_model_name_get_versions_1_and_2(api: Any) -> None:
    name = unique("concurrent")
    first = submit(api, dataset="wine", algorithm="random_forest", model_name=name)
    second = submit(api, dataset="wine", algorithm="random_forest", model_name=name)
    jobs = [wait_job(api, first["job_id"]), wait_job(api, second["job_id"])]
    assert [job["status"] for job in jobs] == ["succeeded", "succeeded"], jobs
    assert sorted(job["result"]["version"] for job in jobs) == [1, 2]
    page = models_of(api, name=name, sort="-version")
    assert page["total"] == 2
    assert [m["version"] for m in page["items"]] == [2, 1]
    by_job = {m["job_id"]: m["version"] for m in page["items"]}
    assert by_job == {job["job_id"]: job["result"]["version"] for job in jobs}


def test_cancel_a_running_job_stops_it_and_the_workers_keep_working(
    api: Any, stack: LocalStack
) -> None:
    name = unique("cancel-running")
    job = submit(api, model_name=name, **SLOW_JOB)
    try:
        # Mid-fit: no stage boundary will see the flag, the worker's process must be stopped.
        running = wait_running(api, job["job_id"], stage="fitting")
        response = cancel(api, job["job_id"])
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "running"  # it ends once the worker stops it
        ended = wait_job(api, job["job_id"], timeout=CANCEL_TIMEOUT)
    finally:
        cancel_quietly(api, [job["job_id"]])
    assert ended["status"] == "cancelled", ended
    assert ended["error"]["type"] == "cancelled"
    assert ended["result"] is None
    assert models_of(api, name=name)["total"] == 0
    with mongo(stack) as db:
        assert model_files(db, job["job_id"]) == []
    # Cancelling again: it has ended.
    assert_error(cancel(api, job["job_id"]), 409, "conflict")

    # Both workers, including the one whose process was stopped, train again.
    seen: set[str] = set()
    for _ in range(5):
        pair = [submit(api, dataset="iris", algorithm="knn", model_name=name) for _ in range(2)]
        for queued in pair:
            done = wait_job(api, queued["job_id"])
            assert done["status"] == "succeeded", done
            seen.add(done["worker"])
        if running["worker"] in seen and len(seen) == 2:
            break
    assert running["worker"] in seen and len(seen) == 2, seen


def test_cancel_a_queued_job_it_never_runs(api: Any, stack: LocalStack) -> None:
    name = unique("cancel-queued")
    # Occupy both workers so that the next job has to wait in the queue.
    blockers = [submit(api, model_name=f"{name}-blocker", **SLOW_JOB) for _ in range(2)]
    ids = [job["job_id"] for job in blockers]
    try:
        for job_id in ids:
            wait_running(api, job_id, stage="fitting")
        queued = submit(api, dataset="iris", algorithm="knn", model_name=name)
        ids.append(queued["job_id"])
        assert get_job(api, queued["job_id"])["status"] == "queued"
        response = cancel(api, queued["job_id"])
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "cancelled"
        assert body["error"]["type"] == "cancelled"
        assert body["finished_at"] is not None
        # Free the workers: the queued job's message reaches one of them now.
        for job_id in ids[:2]:
            assert cancel(api, job_id).status_code == 202
        for job_id in ids[:2]:
            assert wait_job(api, job_id, timeout=CANCEL_TIMEOUT)["status"] == "cancelled"
        after = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=name)
    finally:
        cancel_quietly(api, ids)
    assert after["status"] == "succeeded", after
    with redis.Redis.from_url(stack.redis_url) as client:
        assert client.llen("training") == 0  # the cancelled job's message was consumed
    job = get_job(api, queued["job_id"])
    assert job["status"] == "cancelled", job
    assert job["attempts"] == 0
    assert job["started_at"] is None and job["worker"] is None and job["result"] is None
    page = models_of(api, name=name)
    assert [m["job_id"] for m in page["items"]] == [after["job_id"]]
    assert page["items"][0]["version"] == 1  # the cancelled job took no version either
    with mongo(stack) as db:
        assert model_files(db, queued["job_id"]) == []


def test_cancel_of_an_ended_or_unknown_job(api: Any) -> None:
    job = submit_and_wait(api, dataset="iris", algorithm="decision_tree", model_name=unique("dt"))
    assert job["status"] == "succeeded", job
    error = assert_error(cancel(api, job["job_id"]), 409, "conflict")
    assert error["details"]["status"] == "succeeded"
    assert get_job(api, job["job_id"])["status"] == "succeeded"  # unchanged
    assert models_of(api, name=job["model_name"])["total"] == 1
    assert_error(cancel(api, "0123456789abcdef01234567"), 404, "not_found")
    assert_error(api.get("/api/v1/jobs/0123456789abcdef01234567"), 404, "not_found")


def people_csv(rows: int, seed: int) -> bytes:
    """A dataset with an ID column, a categorical column, a numeric one and a text target."""
    colors = ["red", "green", "blue"]
    lines = ["customer_id,color,size,bought"]
    for i in range(rows):
        color = colors[(i * 7 + seed) % 3]
        size = (i * 13 + seed) % 50
        bought = "yes" if color == "red" or size > 35 else "no"
        lines.append(f"{1000 + i},{color},{size},{bought}")
    return ("\n".join(lines) + "\n").encode()


def test_uploaded_dataset_versions_and_a_job_on_it(api: Any, tmp_path: Path) -> None:
    name = unique("people")
    first, second = people_csv(150, seed=1), people_csv(120, seed=2)

    response = upload_dataset(api, name, first, "bought", "customers, first export")
    assert response.status_code == 201, response.text
    v1 = response.json()
    assert response.headers["Location"].endswith(f"/api/v1/datasets/{name}?version=1")
    assert (v1["name"], v1["version"], v1["target"]) == (name, 1, "bought")
    assert v1["task"] == "classification" and v1["classes"] == ["no", "yes"]
    assert v1["n_samples"] == 150
    assert v1["features"] == ["color", "size"]  # the ID column is not a feature
    assert v1["column_types"] == {"customer_id": "id", "color": "categorical", "size": "numeric"}
    assert v1["sha256"] == hashlib.sha256(first).hexdigest()
    assert v1["description"] == "customers, first export"
    assert "file_id" not in v1 and "_id" not in v1

    response = upload_dataset(api, name, second, "bought")
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2
    latest = api.get(f"/api/v1/datasets/{name}").json()
    assert (latest["version"], latest["n_samples"]) == (2, 120)
    again = api.get(f"/api/v1/datasets/{name}", params={"version": 1}).json()
    assert again == v1
    versions = api.get(f"/api/v1/datasets/{name}/versions").json()
    assert versions["total"] == 2 and [v["version"] for v in versions["items"]] == [2, 1]
    assert_error(api.get(f"/api/v1/datasets/{name}", params={"version": 3}), 404, "not_found")

    job = submit_and_wait(
        api, dataset=name, dataset_version=1, algorithm="random_forest", model_name=name
    )
    assert job["status"] == "succeeded", job
    assert job["dataset_version"] == 1
    model = api.get(f"/api/v1/models/{job['result']['model_id']}").json()
    assert model["features"] == ["color", "size"]
    assert (model["dataset_name"], model["dataset_version"]) == (name, 1)

    # Predict on raw rows, ID column included, with a colour never seen in training.
    path = tmp_path / "model.joblib"
    path.write_bytes(download(api, model["model_id"]).content)
    rows = tmp_path / "new.csv"
    rows.write_text("customer_id,color,size\n1,red,3\n2,purple,3\n3,purple,45\n4,blue,5\n")
    predictions = predict_in_fresh_process(path, rows, ["customer_id", "color", "size"], tmp_path)
    assert len(predictions) == 4 and set(predictions) <= {"yes", "no"}
    assert predictions[0] == "yes" and predictions[3] == "no"
