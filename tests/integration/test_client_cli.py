"""The Python client and the CLI against the real local stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.client import APIError, TensorFleetClient


def test_client_submits_waits_and_downloads(stack, tmp_path) -> None:
    fleet = TensorFleetClient(stack.api_url)
    job = fleet.submit_job(
        "wine", "knn", model_name="cli_wine_knn", hyperparameters={"n_neighbors": 3}
    )
    job = fleet.wait(job["job_id"], timeout=120)
    assert job["status"] == "succeeded", job
    path = fleet.download_model(job["result"]["model_id"], tmp_path / "m.joblib")
    assert path.stat().st_size > 0
    names = [m["name"] for m in fleet.list_models(name="cli_wine_knn")["items"]]
    assert names == ["cli_wine_knn"]


def test_client_raises_api_errors_with_details(stack) -> None:
    with pytest.raises(APIError) as caught:
        TensorFleetClient(stack.api_url).submit_job("iris", "no_such_algorithm")
    assert caught.value.status == 400 and "random_forest" in caught.value.details["allowed"]


def test_cli_submit_with_wait_prints_the_finished_job(stack) -> None:
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "--url",
        stack.api_url,
        "submit",
        "iris",
        "decision_tree",
        "-p",
        "max_depth=3",
        "--model-name",
        "cli_iris_tree",
        "--wait",
        "--timeout",
        "120",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["hyperparameters"]["max_depth"] == 3


def test_cli_reports_api_errors_as_json_and_exit_2(stack) -> None:
    command = [sys.executable, "-m", "app.cli", "--url", stack.api_url, "submit", "nope", "knn"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["code"] == "not_found"
