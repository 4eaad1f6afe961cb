"""The Python client and the CLI against the real local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.client import APIError, TensorFleetClient


def test_client_submits_waits_and_downloads(stack, tmp_path) -> None:
    fleet = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
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
        TensorFleetClient(stack.api_url, api_key=stack.admin_key).submit_job(
            "iris", "no_such_algorithm"
        )
    assert caught.value.status == 400 and "random_forest" in caught.value.details["allowed"]


def test_cli_submit_with_wait_prints_the_finished_job(stack) -> None:
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "--url",
        stack.api_url,
        "--key",
        stack.admin_key,
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
    env = {**os.environ, "TENSORFLEET_KEY": stack.admin_key}  # the key from the environment
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["code"] == "not_found"


def test_cli_without_a_key_is_refused_with_401(stack) -> None:
    command = [sys.executable, "-m", "app.cli", "--url", stack.api_url, "status", "some-job"]
    env = {k: v for k, v in os.environ.items() if k != "TENSORFLEET_KEY"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["code"] == "unauthorized"
