"""From a trained model to @champion to predictions, over HTTP on the local stack.

Registry references and aliases, online predictions (MLflow formats, CSV, Open Inference
Protocol v2, both engines), every bad input, ONNX downloads and a model whose ONNX copy
failed parity, batch prediction jobs on the fleet, the prediction log and monitoring.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnxruntime
import pandas as pd
import pytest

from localstack import LocalStack
from tests.integration.helpers import (
    api_client,
    assert_error,
    submit,
    submit_and_wait,
    unique,
    upload_dataset,
    wait_job,
    wait_onnx,
)

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[Any]:
    with api_client(stack) as client:
        yield client


@pytest.fixture(scope="module")
def flowers(api: Any) -> dict[str, Any]:
    """Model ``name``: v1 a random forest, v2 a stump (worse); ``@champion`` on v1."""
    name = unique("serve-flowers")
    first = submit_and_wait(
        api, dataset="iris", algorithm="random_forest", model_name=name,
        hyperparameters={"n_estimators": 30},
    )  # fmt: skip
    second = submit_and_wait(
        api, dataset="iris", algorithm="decision_tree", model_name=name,
        hyperparameters={"max_depth": 1},
    )  # fmt: skip
    assert first["status"] == second["status"] == "succeeded", (first, second)
    for job in (first, second):
        wait_onnx(api, job["result"]["model_id"])
    moved = api.request("PUT", f"/api/v1/models/{name}/aliases/champion", json={"version": 1})
    assert moved.status_code == 200, moved.text
    return {"name": name, "v1": first["result"]["model_id"], "v2": second["result"]["model_id"]}


def _predict(api: Any, ref: str, body: Any = None, **kwargs: Any) -> Any:
    return api.post(f"/api/v1/models/{ref}/predict", json=body, **kwargs)


def test_every_reference_resolves(api, flowers) -> None:
    name = flowers["name"]
    for ref, expected in [
        (f"{name}@champion", flowers["v1"]), (f"{name}@v2", flowers["v2"]),
        (f"{name}@latest", flowers["v2"]), (flowers["v1"], flowers["v1"]),
    ]:  # fmt: skip
        response = api.get(f"/api/v1/models/{ref}")
        assert response.status_code == 200 and response.json()["model_id"] == expected, ref
    found = api.get("/api/v1/models", params={"alias": "champion", "name": name}).json()
    assert [m["model_id"] for m in found["items"]] == [flowers["v1"]]
    assert found["items"][0]["aliases"] == ["champion"]


def test_online_predictions_in_every_format_and_engine(api, flowers) -> None:
    ref = f"{flowers['name']}@champion"
    split = {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}}
    records = {"dataframe_records": [ROW, VIRGINICA]}
    assert _predict(api, ref, split).json()["predictions"] == ["setosa"]
    answer = _predict(api, ref, records, params={"proba": "true"}).json()
    assert answer["predictions"] == ["setosa", "virginica"] and answer["engine"] == "onnx"
    assert answer["model"] == {"id": flowers["v1"], "name": flowers["name"], "version": 1}
    assert answer["classes"] == ["setosa", "versicolor", "virginica"]
    sklearn = _predict(api, ref, records, params={"proba": "true", "engine": "sklearn"}).json()
    assert sklearn["engine"] == "sklearn" and sklearn["predictions"] == answer["predictions"]
    diff = np.abs(np.array(sklearn["probabilities"]) - np.array(answer["probabilities"]))
    assert diff.max() <= 1e-3
    table = pd.DataFrame([ROW, VIRGINICA]).to_csv(index=False)
    csv_answer = api.post(
        f"/api/v1/models/{ref}/predict", data=table, headers={"Content-Type": "text/csv"}
    )
    assert csv_answer.json()["predictions"] == ["setosa", "virginica"]


def test_an_alias_move_takes_effect_on_the_next_request(api, flowers) -> None:
    name, body = flowers["name"], {"dataframe_records": [ROW]}
    api.request("PUT", f"/api/v1/models/{name}/aliases/staging", json={"version": 1})
    assert _predict(api, f"{name}@staging", body).json()["model"]["version"] == 1
    api.request("PUT", f"/api/v1/models/{name}/aliases/staging", json={"version": 2})
    assert _predict(api, f"{name}@staging", body).json()["model"]["version"] == 2
    history = api.get(f"/api/v1/models/{name}/aliases", params={"history": "true"}).json()
    moves = [(e["alias"], e["from_version"], e["to_version"]) for e in history["items"]]
    assert ("staging", 1, 2) in moves


def test_bad_inputs_are_4xx_naming_the_columns_without_echoing_data(api, flowers) -> None:
    ref = f"{flowers['name']}@champion"
    secret = "s3cr3t-value"
    wrong = {"dataframe_records": [{**ROW, "petal_width": secret, "colour": "red"}]}
    del wrong["dataframe_records"][0]["sepal_length"]
    error = assert_error(_predict(api, ref, wrong), 400)
    details = error["details"]
    assert (details["missing"], details["unknown"], details["wrong_type"]) == (
        ["sepal_length"], ["colour"], ["petal_width"],
    )  # fmt: skip
    assert secret not in str(error) and "Traceback" not in str(error)
    assert_error(_predict(api, ref, {"dataframe_records": [ROW], "instances": [ROW]}), 400)
    assert_error(_predict(api, ref, {"nothing": []}), 400)
    assert_error(api.post(f"/api/v1/models/{ref}/predict", data="x", headers={
        "Content-Type": "text/plain"}), 415)  # fmt: skip
    too_many = {"instances": [list(ROW.values())] * 10_001}
    assert_error(_predict(api, ref, too_many), 413)
    assert_error(_predict(api, f"{flowers['name']}@nope", {"instances": [ROW]}), 404)
    assert_error(_predict(api, "ghost-model@latest", {"instances": [ROW]}), 404)
    assert_error(_predict(api, ref, {"instances": [ROW]}, params={"engine": "gpu"}), 400)


def test_deleting_an_aliased_version_is_409_and_a_deleted_version_is_404(api) -> None:
    name = unique("serve-delete")
    job = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=name)
    api.request("PUT", f"/api/v1/models/{name}/aliases/champion", json={"version": 1})
    assert_error(api.delete(f"/api/v1/models/{name}@v1"), 409)
    assert api.delete(f"/api/v1/models/{name}/aliases/champion").status_code == 204
    assert api.delete(f"/api/v1/models/{name}@v1").status_code == 204
    assert_error(_predict(api, f"{name}@v1", {"instances": [ROW]}), 404)
    assert_error(_predict(api, job["result"]["model_id"], {"instances": [ROW]}), 404)


def test_the_onnx_file_downloads_verified_and_runs_anywhere(api, flowers) -> None:
    model = api.get(f"/api/v1/models/{flowers['name']}@champion").json()
    assert model["formats"]["onnx"]["status"] == "ok", model["formats"]
    response = api.get(
        f"/api/v1/models/{flowers['name']}@champion/download", params={"format": "onnx"}
    )
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == response.headers["X-Checksum-SHA256"]
    session = onnxruntime.InferenceSession(response.content, providers=["CPUExecutionProvider"])
    feeds = {k: np.array([[v]], dtype=np.float32) for k, v in VIRGINICA.items()}
    assert session.run(None, feeds)[0].tolist() == ["virginica"]


def _tied_dataset(n: int = 1000) -> bytes:
    """Discrete features with many exact distance ties: k-NN's ONNX copy breaks them
    differently from scikit-learn, so its parity check fails."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "size": rng.integers(0, 3, n).astype(float),
        "colour": rng.choice(["red", "green", "blue"], n),
        "shape": rng.choice(["a", "b"], n),
    })  # fmt: skip
    frame["label"] = np.where(rng.random(n) < 0.5, "yes", "no")
    return frame.to_csv(index=False).encode()


def test_a_model_whose_onnx_copy_failed_parity_serves_with_sklearn(api) -> None:
    name = unique("serve-ties")
    assert upload_dataset(api, name, _tied_dataset(), "label").status_code == 201
    job = submit_and_wait(
        api, dataset=name, algorithm="knn", model_name=name, hyperparameters={"n_neighbors": 5}
    )
    assert job["status"] == "succeeded", job  # a failed conversion never fails the job
    onnx = wait_onnx(api, f"{name}@latest")["formats"]["onnx"]
    assert onnx["status"] == "unsupported" and "parity failed" in onnx["reason"], onnx
    row = {"size": 1.0, "colour": "red", "shape": "a"}
    answer = _predict(api, f"{name}@latest", {"dataframe_records": [row]}).json()
    assert answer["engine"] == "sklearn" and answer["predictions"][0] in ("yes", "no")
    refused = _predict(api, f"{name}@latest", {"dataframe_records": [row]},
                       params={"engine": "onnx"})  # fmt: skip
    assert "parity failed" in assert_error(refused, 409)["message"]
    download = api.get(f"/api/v1/models/{name}@latest/download", params={"format": "onnx"})
    assert_error(download, 409)


def test_open_inference_protocol_v2(api, flowers) -> None:
    name = flowers["name"]
    assert api.get("/v2/health/ready").status_code == 200
    assert api.get(f"/v2/models/{name}/ready").json()["ready"] is True
    meta = api.get(f"/v2/models/{name}").json()
    assert [i["name"] for i in meta["inputs"]] == list(ROW)
    inputs = [
        {"name": k, "shape": [2], "datatype": "FP64", "data": [ROW[k], VIRGINICA[k]]} for k in ROW
    ]
    answer = api.post(f"/v2/models/{name}/versions/1/infer", json={"inputs": inputs}).json()
    assert answer["model_version"] == "1"
    assert answer["outputs"][0]["data"] == ["setosa", "virginica"]
    assert_error(api.post(f"/v2/models/{name}/infer", json={"inputs": inputs[:2]}), 400)


def _scoring_csv(rows: int) -> bytes:
    iris = pd.read_csv("datasets/iris.csv")
    frame = iris.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    frame.insert(0, "flower_id", np.arange(1000, 1000 + rows))
    frame["sepal_length"] = frame["sepal_length"].astype(object)
    frame.loc[[3, 7], "sepal_length"] = "n/a?"
    return frame.to_csv(index=False).encode()


def test_a_batch_prediction_job_runs_on_the_fleet(api, flowers) -> None:
    dataset = unique("serve-batch")
    assert upload_dataset(api, dataset, _scoring_csv(3000), "species").status_code == 201
    job = submit(api, kind="predict", model=f"{flowers['name']}@champion", dataset=dataset,
                 proba=True)  # fmt: skip
    assert job["model"]["version"] == 1  # pinned at submission
    done = wait_job(api, job["job_id"])
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert (result["rows"], result["invalid_rows"], result["predicted_rows"]) == (3000, 2, 2998)
    assert [e["row"] for e in result["row_errors"]] == [3, 7]
    assert done["worker"] and done["progress"]["percent"] == 100
    output = api.get(f"/api/v1/jobs/{job['job_id']}/output")
    assert output.status_code == 200
    assert hashlib.sha256(output.content).hexdigest() == output.headers["X-Checksum-SHA256"]
    table = list(csv.DictReader(io.StringIO(output.text)))
    assert len(table) == 2998 and table[0]["flower_id"] == "1000"
    assert {"prediction", "proba_setosa", "proba_versicolor", "proba_virginica"} <= set(table[0])
    listed = api.get("/api/v1/jobs", params={"kind": "predict", "limit": 100}).json()
    assert job["job_id"] in [j["job_id"] for j in listed["items"]]


def test_bad_batch_submissions(api, flowers) -> None:
    ref = f"{flowers['name']}@champion"
    assert_error(api.post("/api/v1/jobs", json={"kind": "predict", "model": ref,
                                                "dataset": "wine"}), 400)  # fmt: skip
    assert_error(api.post("/api/v1/jobs", json={"kind": "predict", "model": "x@nope",
                                                "dataset": "iris"}), 404)  # fmt: skip
    assert_error(api.post("/api/v1/jobs", json={"kind": "predict", "dataset": "iris"}), 400)
    response = api.post("/api/v1/jobs", json={"kind": "fly", "model": ref, "dataset": "iris"})
    assert_error(response, 400)
    training = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=unique("t"))
    assert_error(api.get(f"/api/v1/jobs/{training['job_id']}/output"), 404)


def test_the_prediction_log_and_monitoring(api, flowers) -> None:
    name = unique("serve-log")
    submit_and_wait(api, dataset="iris", algorithm="logistic_regression", model_name=name)
    for _ in range(4):
        _predict(api, f"{name}@latest", {"dataframe_records": [ROW, VIRGINICA]})
    _predict(api, f"{name}@latest", {"dataframe_records": [{"wrong": 1}]})
    deadline = time.monotonic() + 10  # the log is written off-thread, about every second
    while time.monotonic() < deadline:
        report = api.get(f"/api/v1/models/{name}/monitoring").json()
        if report["requests"] == 5:
            break
        time.sleep(0.3)
    assert (report["requests"], report["errors"], report["rows"]) == (5, 1, 8), report
    assert report["predictions"]["counts"] == {"setosa": 4, "virginica": 4}
    assert report["latency_ms"]["p99"] >= report["latency_ms"]["p50"] > 0
    petal = report["features"]["petal_length"]
    assert petal["serving"]["count"] == 8 and petal["training"]["count"] == 120
    logged = api.get(f"/api/v1/models/{name}@latest/predictions", params={"limit": 10}).json()
    assert len(logged["items"]) == 5 and logged["items"][0]["status"] == "error"
    assert logged["items"][1]["inputs"] == [ROW, VIRGINICA]


def test_a_big_model_gets_its_onnx_copy_right_after_its_job(api) -> None:
    from tests.integration.test_reliability import synthetic_regression_csv

    name = unique("serve-big")
    assert upload_dataset(api, name, synthetic_regression_csv(3000, 4), "y").status_code == 201
    job = submit_and_wait(api, dataset=name, algorithm="random_forest", model_name=name,
                          hyperparameters={"n_estimators": 40, "max_features": 1})  # fmt: skip
    assert job["status"] == "succeeded", job
    first = api.get(f"/api/v1/models/{job['result']['model_id']}").json()
    assert first["size_bytes"] > 2 * 2**20  # over ONNX_INLINE_MAX_MB: converted after the job
    model = wait_onnx(api, job["result"]["model_id"])
    onnx = model["formats"]["onnx"]
    assert onnx["status"] == "ok" and onnx["rows"] == 600, onnx
    row = {"x0": 0.5, "x1": -1.0, "x2": 0.0, "x3": 1.5}
    by_onnx = _predict(
        api, name + "@latest", {"dataframe_records": [row]}, params={"engine": "onnx"}
    )
    by_sklearn = _predict(api, name + "@latest", {"dataframe_records": [row]},
                          params={"engine": "sklearn"})  # fmt: skip
    assert abs(by_onnx.json()["predictions"][0] - by_sklearn.json()["predictions"][0]) < 1e-3
    download = api.get(f"/api/v1/models/{name}@latest/download", params={"format": "onnx"})
    assert hashlib.sha256(download.content).hexdigest() == onnx["sha256"]
