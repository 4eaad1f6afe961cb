"""The Python client and the CLI (the ``tensorfleet`` package) against the real local stack:
jobs, the model registry and serving (aliases, the gate, references, online and batch
predictions, downloads), searches, tables for people, the URL and key from the environment,
one-line errors for what is not the API, and retries on 503."""

from __future__ import annotations

import csv
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from tensorfleet import APIError, TensorFleetClient
from tests.integration.helpers import exported, unique

KEY_VARIABLES = ("TENSORFLEET_URL", "TENSORFLEET_API_KEY", "TENSORFLEET_KEY")


def cli_env(**variables: str) -> dict[str, str]:
    """The test's environment without any TENSORFLEET_* setting, plus ``variables``."""
    return {**{k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}, **variables}


def tensorfleet(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """``python -m tensorfleet ARGS`` in a subprocess (no TENSORFLEET_* from the test's
    environment unless in ``env``)."""
    return subprocess.run(
        [sys.executable, "-m", "tensorfleet", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env or cli_env(),
    )


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
    done = run_json(
        stack, "submit", "iris", "decision_tree", "-p", "max_depth=3", "-p",
        "min_samples_leaf=2", "-p", "class_weight=None", "--model-name", "cli_iris_tree",
        "--wait", "--timeout", "120",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded"
    params = job["hyperparameters"]
    assert (params["max_depth"], params["min_samples_leaf"], params["class_weight"]) == (3, 2, None)
    progress = done.stderr.splitlines()  # not a terminal: one line per change, no bar
    assert progress[0] == f"queued {job['job_id']}" and "\r" not in done.stderr
    assert progress[-1] == f"job {job['job_id']}: succeeded, done (100%)"


def test_cli_submit_with_wait_for_people_shows_the_job(stack) -> None:
    done = run_cli(stack, "submit", "iris", "knn", "-p", "n_neighbors=7", "--wait")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    job_id = lines[0].split()[1]
    assert lines[0] == f"job        {job_id}  (train)" and lines[1] == "status     succeeded"
    assert "n_neighbors=7" in done.stdout and "test_accuracy=" in done.stdout
    assert any(line.startswith("model      iris_knn@v") for line in lines)


def test_cli_reports_api_errors_as_json_and_exit_2(stack) -> None:
    env = cli_env(TENSORFLEET_KEY=stack.admin_key)  # the older name of the key's variable
    done = tensorfleet("--url", stack.api_url, "submit", "nope", "knn", env=env)
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["code"] == "not_found"


def test_cli_without_a_key_is_refused_with_401(stack) -> None:
    done = tensorfleet("--url", stack.api_url, "status", "some-job")
    assert done.returncode == 2
    assert json.loads(done.stderr)["error"]["code"] == "unauthorized"


def test_cli_reads_the_url_and_the_key_from_the_environment(stack) -> None:
    env = cli_env(TENSORFLEET_URL=stack.api_url, TENSORFLEET_API_KEY=stack.admin_key)
    done = tensorfleet("--json", "algorithms", env=env)
    assert done.returncode == 0, done.stderr
    assert "random_forest" in {a["name"] for a in json.loads(done.stdout)["items"]}
    wrong_key = tensorfleet("--api-key", "tf_wrong", "datasets", env=env)  # the option wins
    assert wrong_key.returncode == 2
    assert json.loads(wrong_key.stderr)["error"]["code"] == "unauthorized"
    env["TENSORFLEET_URL"] = f"http://127.0.0.1:{_free_port()}"
    right_url = tensorfleet("--url", stack.api_url, "--json", "datasets", env=env)
    assert right_url.returncode == 0, right_url.stderr
    assert "iris" in {d["name"] for d in json.loads(right_url.stdout)["items"]}


# The model registry and serving (issue 10): aliases, references, predictions, downloads.

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
CSV = (",".join(ROW) + "\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n").encode()
ENGINES = ("sklearn", "onnx")
IRIS_ROWS = 150


def run_cli(stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``tensorfleet --url … --api-key … ARGS`` in a subprocess (output for people)."""
    return tensorfleet("--url", stack.api_url, "--api-key", stack.admin_key, *args, stdin=stdin)


def run_json(stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``tensorfleet --url … --api-key … --json ARGS``: the API's answer as JSON."""
    return run_cli(stack, "--json", *args, stdin=stdin)


def one_line_error(done: subprocess.CompletedProcess, code: str) -> dict:
    """The API error a failed CLI command printed: one JSON line on stderr, exit status 2."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    error = json.loads(done.stderr)["error"]
    assert error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def iris_versions(stack) -> dict:
    """Model ``name`` with a good version (a depth-4 tree) and a worse one (a stump)."""
    fleet = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
    name = unique("cli-flowers")
    jobs = {
        depth: fleet.submit_job(
            "iris", "decision_tree", model_name=name, hyperparameters={"max_depth": depth}
        )
        for depth in (4, 1)
    }
    done = {depth: fleet.wait(job["job_id"], timeout=120) for depth, job in jobs.items()}
    assert all(job["status"] == "succeeded" for job in done.values()), done
    good, worse = (
        exported(lambda d=d: fleet.get_model(done[d]["result"]["model_id"])) for d in (4, 1)
    )
    assert good["metrics"]["f1_macro"] > worse["metrics"]["f1_macro"], (good, worse)
    return {"name": name, "good": good, "worse": worse, "fleet": fleet}


def test_client_predicts_through_an_alias(iris_versions) -> None:
    fleet, name, good = iris_versions["fleet"], iris_versions["name"], iris_versions["good"]
    moved = fleet.set_alias(name, "staging", good["version"])
    assert (moved["alias"], moved["model_id"]) == ("staging", good["model_id"])
    assert fleet.get_model(f"{name}@staging")["model_id"] == good["model_id"]
    expected_model = {"id": good["model_id"], "name": name, "version": good["version"]}
    answers = [
        fleet.predict(f"{name}@staging", [ROW, VIRGINICA]),
        fleet.predict_csv(f"{name}@staging", CSV),
    ]
    for answer in answers:
        assert answer["predictions"] == ["setosa", "virginica"], answer
        assert answer["model"] == expected_model and answer["engine"] in ENGINES
    proba = fleet.predict(f"{name}@staging", [ROW], proba=True)
    assert proba["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(proba["probabilities"]) == 1 and abs(sum(proba["probabilities"][0]) - 1) < 1e-3


def test_an_alias_move_shows_in_its_history_and_the_next_prediction(iris_versions) -> None:
    fleet, name = iris_versions["fleet"], iris_versions["name"]
    good, worse = iris_versions["good"]["version"], iris_versions["worse"]["version"]
    fleet.set_alias(name, "canary", good)
    fleet.set_alias(name, "canary", worse)
    assert fleet.predict(f"{name}@canary", [ROW])["model"]["version"] == worse
    current = {a["alias"]: a["version"] for a in fleet.list_aliases(name)["items"]}
    assert current["canary"] == worse
    moves = [
        (h["from_version"], h["to_version"])
        for h in fleet.list_aliases(name, history=True, limit=100)["items"]
        if h["alias"] == "canary"
    ]
    assert moves == [(good, worse), (None, good)]  # newest first
    fleet.remove_alias(name, "canary")
    with pytest.raises(APIError) as gone:
        fleet.predict(f"{name}@canary", [ROW])
    assert gone.value.status == 404


def test_the_gate_refuses_a_worse_version_in_the_client_and_the_cli(stack, iris_versions) -> None:
    fleet, name = iris_versions["fleet"], iris_versions["name"]
    good, worse = iris_versions["good"], iris_versions["worse"]
    fleet.set_alias(name, "gated", good["version"])
    with pytest.raises(APIError) as refused:
        fleet.set_alias(name, "gated", worse["version"], gate="f1_macro", min_delta=0.0)
    assert refused.value.status == 409 and refused.value.code == "conflict"
    assert refused.value.details == {
        "candidate": worse["metrics"]["f1_macro"],
        "current": good["metrics"]["f1_macro"],
        "metric": "f1_macro",
    }
    done = run_cli(
        stack, "alias", "set", name, "gated", f"v{worse['version']}", "--gate-metric", "f1_macro"
    )
    error = one_line_error(done, "conflict")
    assert error["details"]["metric"] == "f1_macro"
    assert fleet.get_model(f"{name}@gated")["version"] == good["version"]  # unchanged


def test_unknown_aliases_are_404_in_the_client_and_the_cli(stack, iris_versions) -> None:
    fleet, name = iris_versions["fleet"], iris_versions["name"]
    for call in (
        lambda: fleet.get_model(f"{name}@no-such-alias"),
        lambda: fleet.predict(f"{name}@no-such-alias", [ROW]),
        lambda: fleet.download_model(f"{name}@no-such-alias", "/nonexistent/never-written"),
    ):
        with pytest.raises(APIError) as missing:
            call()
        assert (missing.value.status, missing.value.code) == (404, "not_found")
    for args in (
        ["predict", f"{name}@no-such-alias", "--json", "-"],
        ["models", "show", f"{name}@no-such-alias"],
        ["alias", "rm", name, "no-such-alias"],
    ):
        one_line_error(run_cli(stack, *args, stdin=json.dumps([ROW])), "not_found")


def test_cli_predicts_json_rows_and_csv_through_an_alias(stack, iris_versions, tmp_path) -> None:
    name, good = iris_versions["name"], iris_versions["good"]
    assert run_cli(stack, "alias", "set", name, "cli", str(good["version"])).returncode == 0
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([ROW, VIRGINICA]))
    csv_file = tmp_path / "rows.csv"
    csv_file.write_bytes(CSV)
    for args, stdin in (
        (["--json", str(rows)], None),
        (["--json", "-"], json.dumps({"dataframe_records": [ROW, VIRGINICA]})),
        (["--csv", str(csv_file), "--proba"], None),
    ):
        done = run_json(stack, "predict", f"{name}@cli", *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["predictions"] == ["setosa", "virginica"], args
        assert answer["model"]["version"] == good["version"]
    assert len(answer["probabilities"]) == 2  # the --proba one


def test_cli_shows_tags_lists_history_and_downloads_by_reference(
    stack, iris_versions, tmp_path
) -> None:
    name, good = iris_versions["name"], iris_versions["good"]
    run_cli(stack, "alias", "set", name, "shown", str(good["version"]))
    shown = json.loads(run_json(stack, "models", "show", f"{name}@shown").stdout)
    assert shown["model_id"] == good["model_id"] and "shown" in shown["aliases"]
    done = run_json(stack, "models", "tag", f"{name}@shown", "team=risk", "--description", "tree")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tags"] == {"team": "risk"}
    listed = json.loads(run_json(stack, "models", "--tag", "team=risk", "--name", name).stdout)
    assert [m["model_id"] for m in listed["items"]] == [good["model_id"]]
    history = json.loads(run_json(stack, "alias", "ls", name, "--history").stdout)["items"]
    assert any(h["alias"] == "shown" and h["to_version"] == good["version"] for h in history)

    done = run_cli(stack, "download", f"{name}@shown", str(tmp_path))
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"{name}-v{good['version']}.joblib"
    assert done.stdout.strip() == str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == good["sha256"]
    client_path = iris_versions["fleet"].download_model(f"{name}@shown", tmp_path / "c.joblib")
    assert client_path.read_bytes() == path.read_bytes()


# Arriving with the next server commit: each test skips only while the server plainly
# lacks the feature (no ``formats`` in the model, ``engine`` / ``kind`` an unknown field),
# and fails if the feature is there but misbehaves.


def _unknown_field(error: APIError, field: str) -> bool:
    """Whether ``error`` is the 400 of a server that does not know request field ``field``."""
    problems = error.details.get("errors", []) if error.status == 400 else []
    return any(p.get("field", "").split(".")[-1] == field for p in problems)


def test_onnx_download_when_the_server_offers_it(stack, iris_versions, tmp_path) -> None:
    fleet, good = iris_versions["fleet"], iris_versions["good"]
    if "formats" not in good:
        pytest.skip("this server has no ONNX export yet (no 'formats' in the model)")
    onnx = good["formats"].get("onnx") or {}
    assert onnx.get("status") == "ok", f"an iris decision tree did not convert: {onnx}"
    path = fleet.download_model(good["model_id"], tmp_path, format="onnx")
    assert path.name.endswith(".onnx") and path.stat().st_size > 0
    if onnx.get("sha256"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == onnx["sha256"]
    done = run_cli(
        stack, "download", good["model_id"], str(tmp_path / "cli.onnx"), "--format", "onnx"
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli.onnx").read_bytes() == path.read_bytes()
    try:
        import onnxruntime
    except ImportError:  # at least: a protobuf ModelProto (field 1, ir_version, a varint)
        assert path.read_bytes()[:1] == b"\x08"
        return
    import numpy as np

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if set(names) == set(ROW):  # one [n, 1] input per feature
        feed = {k: np.array([[ROW[k]], [VIRGINICA[k]]], dtype=np.float32) for k in names}
    else:  # one [n, features] input
        feed = {names[0]: np.array([list(ROW.values()), list(VIRGINICA.values())], np.float32)}
    labels = session.run(None, feed)[0]
    assert [str(label) for label in labels] == ["setosa", "virginica"]


def test_predict_with_either_engine_when_the_server_offers_both(iris_versions) -> None:
    fleet, good = iris_versions["fleet"], iris_versions["good"]
    try:
        by_sklearn = fleet.predict(good["model_id"], [ROW, VIRGINICA], engine="sklearn")
    except APIError as error:
        if _unknown_field(error, "engine"):
            pytest.skip("this server does not know ?engine= yet")
        raise
    assert by_sklearn["engine"] == "sklearn"
    by_onnx = fleet.predict(good["model_id"], [ROW, VIRGINICA], engine="onnx", proba=True)
    assert by_onnx["engine"] == "onnx"
    assert by_onnx["predictions"] == by_sklearn["predictions"] == ["setosa", "virginica"]
    assert by_onnx["classes"] == ["setosa", "versicolor", "virginica"]


def _batch_job(fleet: TensorFleetClient, model: str, **options) -> dict:
    try:
        return fleet.submit_prediction_job(model, "iris", **options)
    except APIError as error:
        if _unknown_field(error, "kind"):
            pytest.skip("this server has no batch prediction jobs yet")
        raise


def _check_output(path, result: dict, proba: bool = False) -> None:
    """The output CSV: one line per dataset row, a ``prediction`` column of iris labels (the
    first iris row is a setosa), and with ``proba`` one ``proba_<class>`` column per class."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == result["rows"] == IRIS_ROWS
    labels = ["setosa", "versicolor", "virginica"]
    assert {row["prediction"] for row in rows} <= set(labels), rows[0]
    assert rows[0]["prediction"] == "setosa"
    if proba:
        assert abs(sum(float(rows[0][f"proba_{label}"]) for label in labels) - 1) < 1e-3


def test_batch_predictions_with_the_client(iris_versions, tmp_path) -> None:
    fleet, name, good = iris_versions["fleet"], iris_versions["name"], iris_versions["good"]
    fleet.set_alias(name, "batch", good["version"])
    job = fleet.wait(_batch_job(fleet, f"{name}@batch")["job_id"], timeout=120)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert (result["rows"], result["invalid_rows"]) == (IRIS_ROWS, 0), result
    assert not result["row_errors"], result
    _check_output(fleet.download_output(job["job_id"], tmp_path / "out.csv"), result)


def test_batch_predictions_with_the_cli(stack, iris_versions, tmp_path) -> None:
    name, good = iris_versions["name"], iris_versions["good"]
    output = tmp_path / "cli.csv"
    model = f"{name}@v{good['version']}"
    done = run_json(
        stack, "predict-batch", model, "iris", "--proba", "--wait", "--output", str(output)
    )
    if done.returncode == 2 and not done.stdout:
        error = json.loads(done.stderr)["error"]
        if _unknown_field(APIError(400, error), "kind"):
            pytest.skip("this server has no batch prediction jobs yet")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["result"]["invalid_rows"] == 0, job
    assert done.stderr.strip().endswith(str(output))
    _check_output(output, job["result"], proba=True)


# Hyperparameter searches: the client's submit/wait/trials/cancel and the ``search`` commands.

GRID = {"n_neighbors": [1, 5, 15]}
GRID_ARGS = ["--strategy", "grid", "--space", json.dumps(GRID), "--cv", "3", "--trials", "3",
             "--parallelism", "2", "--timeout", "100"]  # fmt: skip


def test_client_grid_search_waits_and_registers_the_best(stack) -> None:
    fleet = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
    name = unique("cli-search")
    search = fleet.submit_search(
        "iris", "knn", GRID, strategy="grid", model_name=name, cv=3,
        budget={"trials": 3, "parallelism": 2},
    )  # fmt: skip
    assert search["status"] == "running" and search["progress"]["total"] == 3
    seen: list[dict] = []
    done = fleet.wait_search(search["search_id"], timeout=100, poll=0.5, on_progress=seen.append)
    assert done["status"] == "succeeded", done
    assert seen[0]["search_id"] == search["search_id"] and seen[-1] == done
    assert done["progress"]["succeeded"] == 3 and done["metric"] == "test_accuracy"
    scores = [t["score"] for t in done["leaderboard"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    best = done["best"]
    assert best["model_id"] and best["score"] == scores[0]
    model = fleet.get_model(best["model_id"])
    assert (model["name"], model["version"]) == (name, best["version"])
    assert model["hyperparameters"]["n_neighbors"] == best["params"]["n_neighbors"]
    trials = fleet.search_trials(search["search_id"], sort="trial")
    assert [t["trial"] for t in trials["items"]] == [0, 1, 2] and trials["total"] == 3
    assert all(len(t["fold_scores"]) == 3 and t["worker"] for t in trials["items"])
    jobs = fleet.list_jobs(search_id=search["search_id"])["items"]
    assert sorted(j["kind"] for j in jobs) == ["train", "trial", "trial", "trial"]
    assert search["search_id"] in {
        s["search_id"] for s in fleet.list_searches(model_name=name)["items"]
    }


def test_cli_search_start_waits_and_prints_the_leaderboard(stack) -> None:
    name = unique("cli-search")
    done = run_cli(stack, "search", "start", "iris", "knn", *GRID_ARGS, "--model-name", name,
                   "--wait")  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "\r" not in done.stderr and "Traceback" not in done.stderr  # not a terminal: lines
    progress = done.stderr.splitlines()
    assert progress[0].startswith("started search ") and progress[0].endswith(": 3 trials")
    search_id = progress[0].split()[2].rstrip(":")
    assert len(progress) == len(set(progress)) >= 2, progress  # one line per change
    lines = done.stdout.splitlines()
    assert lines[0] == f"search   {search_id}  succeeded", done.stdout
    assert all(len(line) <= 100 for line in lines), done.stdout
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    assert lines[header].split()[:3] == ["rank", "trial", "score"]
    rows = [line.split() for line in lines[header + 1 : header + 4]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert {row[-1] for row in rows} == {f"n_neighbors={k}" for k in GRID["n_neighbors"]}
    model = next(line for line in lines if line.startswith("model "))
    assert model.startswith(f"model    {name}@v1  (model id ")

    shown = run_cli(stack, "search", "show", search_id, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["best"]["version"] == 1
    trials = run_cli(stack, "search", "trials", search_id, "--sort", "trial", "--limit", "2")
    assert trials.returncode == 0, trials.stderr
    assert [line.split()[:2] for line in trials.stdout.splitlines()[1:3]] == [
        ["0", "succeeded"],
        ["1", "succeeded"],
    ]
    assert trials.stdout.splitlines()[-1].endswith("of 3, sorted by trial; more: --page 2")
    listed = run_cli(stack, "search", "ls", "--model-name", name)
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split()[:2] == [
        search_id,
        "succeeded",
    ]


def test_a_bad_space_is_a_400_naming_the_field_in_the_client_and_the_cli(stack) -> None:
    fleet = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
    with pytest.raises(APIError) as refused:
        fleet.submit_search("iris", "knn", {"n_neighbors": [0, 3]}, strategy="grid")
    assert refused.value.status == 400 and refused.value.details["field"] == "space.n_neighbors"
    done = run_cli(stack, "search", "start", "iris", "knn", "--space", '{"n_neighbors": []}')
    error = one_line_error(done, "validation_error")
    assert error["details"]["field"] == "space.n_neighbors"
    bad_json = run_cli(stack, "search", "start", "iris", "knn", "--space", "{n_neighbors: [1]}")
    assert bad_json.returncode == 2 and "not JSON" in bad_json.stderr and not bad_json.stdout


def test_cli_cancels_a_running_search(stack) -> None:
    name = unique("cli-search-cancel")
    space = {"n_neighbors": {"low": 1, "high": 30, "type": "int"}, "p": [1, 2]}
    # 200 trials one at a time (~0.1 s each): still running when the cancel comes
    started = run_cli(stack, "search", "start", "iris", "knn", "--space", json.dumps(space),
                      "--trials", "200", "--parallelism", "1", "--cv", "2", "--model-name", name,
                      "--json")  # fmt: skip
    assert started.returncode == 0, started.stderr
    search_id = json.loads(started.stdout)["search_id"]
    cancelled = run_cli(stack, "search", "cancel", search_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.splitlines()[0] == f"search   {search_id}  cancelled"
    shown = json.loads(run_cli(stack, "search", "show", search_id, "--json").stdout)
    assert shown["status"] == "cancelled" and shown["progress"]["succeeded"] < 200
    assert shown["best"] is None or shown["best"]["model_id"] is None
    one_line_error(run_cli(stack, "search", "cancel", search_id), "conflict")


# For people: rich tables on stdout (plain text in a pipe, at most 100 columns).


def test_cli_lists_are_tables_for_people(stack, iris_versions) -> None:
    name = iris_versions["name"]
    algorithms = run_cli(stack, "algorithms").stdout.splitlines()
    assert algorithms[0].split() == ["algorithm", "tasks", "hyperparameters"]
    assert {line.split()[0] for line in algorithms[1:]} >= {"random_forest", "knn", "ridge"}
    datasets = run_cli(stack, "datasets").stdout.splitlines()
    assert datasets[0].split()[:4] == ["dataset", "version", "task", "target"]
    iris = next(line.split() for line in datasets if line.startswith("iris "))
    assert iris[:6] == ["iris", "v1/1", "classification", "species", "150", "4"]
    models = run_cli(stack, "models", "--name", name, "--sort", "-version").stdout.splitlines()
    assert models[0].split()[:4] == ["model", "algorithm", "dataset", "score"]
    rows = [line.split() for line in models[1:3]]
    assert [(r[0], r[2]) for r in rows] == [(f"{name}@v2", "iris"), (f"{name}@v1", "iris")]
    assert all(r[1].startswith("decision") for r in rows)  # cut ("…") when the room is short
    assert models[-1] == "models 1-2 of 2"
    good = iris_versions["good"]
    jobs = run_cli(stack, "jobs", "--model-name", name, "--kind", "train").stdout.splitlines()
    assert jobs[0].split() == ["job", "status", "model", "score", "what", "created"]
    row = next(line.split() for line in jobs if line.startswith(good["job_id"]))
    assert row[1] == "succeeded" and row[3] == f"{good['score']:.4f}"
    key = run_json(stack, "keys", "create", unique("cli-key"), "--scope", "read")
    key_id = json.loads(key.stdout)["id"]
    keys = run_cli(stack, "keys").stdout.splitlines()
    assert keys[0].split()[:3] == ["key", "name", "scopes"]
    assert any(line.split()[:1] == [key_id] and " read " in line for line in keys)
    assert run_cli(stack, "keys", "revoke", key_id).stderr == f"revoked {key_id}\n"
    ref = f"{name}@v{good['version']}"
    shown = run_cli(stack, "models", "show", ref).stdout.splitlines()
    assert shown[0].split() == ["model", ref, "(model", "id", f"{good['model_id']})"]
    for output in (algorithms, datasets, models, jobs, keys):
        assert all(len(line) <= 100 for line in output), output


# One clear line on stderr, never a traceback, when what answers is not the API.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _one_line(done: subprocess.CompletedProcess, status: int = 4) -> str:
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip()


@contextmanager
def http_stub(handle: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """An HTTP server on a free port whose every request ``handle`` answers; its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handle(self)

        do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

        def log_message(self, *_: Any) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _html_404(request: http.server.BaseHTTPRequestHandler) -> None:
    body = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
    request.send_response(404)
    request.send_header("Content-Type", "text/html")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def test_a_stopped_server_is_one_line_and_exit_4(stack) -> None:
    with http_stub(_html_404) as url:
        pass  # it served, now it is stopped: nothing listens on its port
    done = tensorfleet("--url", url, "--api-key", stack.admin_key, "models")
    line = _one_line(done)
    assert line == (
        f"error: cannot reach the TensorFleet API at {url}: Connection refused"
        " (is the server running? check --url or $TENSORFLEET_URL)"
    )
    submit = tensorfleet("--url", url, "submit", "iris", "knn", "--wait")
    assert _one_line(submit) == line


def test_a_wrong_port_or_host_is_one_line_and_exit_4(stack) -> None:
    flower = tensorfleet("--url", stack.flower_url, "models")  # another server: HTML 404
    assert _one_line(flower) == (
        f"error: {stack.flower_url}/api/v1/models answered HTTP 404 (text/html), not the"
        " TensorFleet API's JSON; is it the TensorFleet API? (check --url or $TENSORFLEET_URL)"
    )
    metrics = stack.metrics_urls[0].removesuffix("/metrics")  # a 200 that is not JSON
    plain = _one_line(tensorfleet("--url", metrics, "jobs"))
    assert plain.startswith(f"error: {metrics}/api/v1/jobs answered HTTP 200 (text/plain)")
    with http_stub(_html_404) as url:
        web = _one_line(tensorfleet("--url", url, "--json", "datasets"))
    assert web.startswith(f"error: {url}/api/v1/datasets answered HTTP 404 (text/html)")
    unknown = _one_line(tensorfleet("--url", "http://no-such-host.invalid", "--retries", "0",
                                    "jobs"))  # fmt: skip
    assert unknown.startswith("error: cannot reach the TensorFleet API at http://no-such-host")
    assert _one_line(tensorfleet("--url", "127.0.0.1:8000", "jobs"), status=2).startswith(
        "error: --url: not an http(s) URL"
    )


def test_a_server_that_does_not_answer_in_time_is_one_line_and_exit_4() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        done = tensorfleet("--url", url, "--request-timeout", "0.5", "models")
    assert _one_line(done) == (
        f"error: the TensorFleet API at {url} gave no answer within 0.5 s"
        " (a slow server? --request-timeout)"
    )


# Retries: a 503 (a proxy restarting, Redis away) is retried; the key makes one job.


class FlakyProxy:
    """Forwards to the API, but answers the first ``failures`` requests with a 503 (and
    ``Retry-After``); records each request's method, path and Idempotency-Key."""

    def __init__(self, target: str, failures: int, retry_after: str = "0") -> None:
        self.target, self.failures, self.retry_after = target, failures, retry_after
        self.seen: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()

    def __call__(self, request: http.server.BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        with self.lock:
            self.seen.append((request.command, request.path, request.headers["Idempotency-Key"]))
            failing = len(self.seen) <= self.failures
        if failing:
            data = json.dumps({"error": {"code": "service_unavailable", "message": "busy",
                                         "details": {}}}).encode()  # fmt: skip
            status, headers = 503, {"Content-Type": "application/json",
                                    "Retry-After": self.retry_after}  # fmt: skip
        else:
            skip = {"host", "content-length", "connection", "accept-encoding"}
            sent = {k: v for k, v in request.headers.items() if k.lower() not in skip}
            with requests.request(request.command, self.target + request.path, headers=sent,
                                  data=body, timeout=60) as answer:  # fmt: skip
                status, data = answer.status_code, answer.content
                headers = {"Content-Type": answer.headers.get("Content-Type", "")}
        request.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)


def test_the_cli_retries_a_503_with_the_same_idempotency_key(stack) -> None:
    name = unique("cli-retried")
    proxy = FlakyProxy(stack.api_url, failures=2)
    with http_stub(proxy) as url:
        done = tensorfleet("--url", url, "--api-key", stack.admin_key, "--json", "submit",
                           "iris", "knn", "--model-name", name)  # fmt: skip
    assert done.returncode == 0, done.stderr
    posts = [seen for seen in proxy.seen if seen[0] == "POST"]
    assert len(posts) == 3 and len({key for _, _, key in posts}) == 1 and posts[0][2]
    fleet = TensorFleetClient(stack.api_url, api_key=stack.admin_key)
    assert fleet.list_jobs(model_name=name)["total"] == 1  # three tries, one job
    fleet.wait(json.loads(done.stdout)["job_id"], timeout=60)

    proxy = FlakyProxy(stack.api_url, failures=1, retry_after="1")
    with http_stub(proxy) as url:
        listed = TensorFleetClient(url, api_key=stack.admin_key).list_models(name=name)
    assert len(proxy.seen) == 2 and listed["total"] == 1

    proxy = FlakyProxy(stack.api_url, failures=5)
    with http_stub(proxy) as url:
        refused = tensorfleet("--url", url, "--retries", "1", "--api-key", stack.admin_key,
                              "models")  # fmt: skip
    assert json.loads(_one_line(refused, status=2))["error"]["code"] == "service_unavailable"
    assert len(proxy.seen) == 2  # one try and one retry, then the 503 is reported
