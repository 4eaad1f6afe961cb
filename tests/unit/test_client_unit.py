"""The Python client and the CLI (the ``tensorfleet`` package) against the in-process app
(mongomock, fakeredis): the registry, aliases, predictions and downloads, and how each
error reaches the caller.

``requests`` is routed into Flask's test client by :class:`FlaskAdapter`, so the client's
real HTTP code (headers, query strings, bodies, streaming) runs without a server.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tensorfleet import (
    APIError,
    FormatError,
    IntegrityError,
    RetryPolicy,
    TensorFleetClient,
    predict_body,
)
from tensorfleet.cli import cli
from tensorfleet.tables import render
from tests.unit.conftest import ADMIN_KEY

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
CSV = (",".join(ROW) + "\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n").encode()
BASE = "http://tensorfleet.test"
_DROPPED = {"content-length", "host", "connection", "accept-encoding"}


def _response(request: requests.PreparedRequest, status: int, headers: Any, body: bytes):
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(dict(headers))
    response.raw = io.BytesIO(body)
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


class FlaskAdapter(BaseAdapter):
    """A ``requests`` transport that answers from a Flask test client."""

    def __init__(self, test_client: FlaskClient) -> None:
        super().__init__()
        self.test_client = test_client
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        self.sent.append(request)
        url = urlsplit(request.url or "")
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        answer = self.test_client.open(
            url.path,
            method=request.method or "GET",
            query_string=url.query,
            headers=headers,
            data=body,
        )
        with answer:
            return _response(request, answer.status_code, answer.headers, answer.get_data())

    def close(self) -> None:
        """Nothing to close."""


class CannedAdapter(BaseAdapter):
    """A transport that answers every request with one canned response (or raises)."""

    def __init__(self, status: int = 200, headers: Any = None, body: bytes = b"", raises=None):
        super().__init__()
        self.status, self.headers, self.body, self.raises = status, headers or {}, body, raises

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        if self.raises is not None:
            raise self.raises
        return _response(request, self.status, self.headers, self.body)

    def close(self) -> None:
        """Nothing to close."""


NO_WAIT = RetryPolicy(retries=2, backoff=0.0)  # retries as usual, without the pauses


def client_on(adapter: BaseAdapter) -> TensorFleetClient:
    session = requests.Session()
    session.mount(BASE, adapter)
    return TensorFleetClient(BASE, api_key=ADMIN_KEY, session=session, retry=NO_WAIT)


@pytest.fixture
def adapter(app: Flask) -> Iterator[FlaskAdapter]:
    with app.test_client() as test_client:
        yield FlaskAdapter(test_client)


@pytest.fixture
def fleet(adapter: FlaskAdapter) -> Iterator[TensorFleetClient]:
    client = client_on(adapter)
    yield client
    client.session.close()


@pytest.fixture
def flowers(fleet: TensorFleetClient, run_job: Callable[..., Any]) -> list[dict[str, Any]]:
    """Two versions of model ``flowers`` (knn on iris), trained in-process."""
    results = []
    for k in (5, 1):
        job = fleet.submit_job(
            "iris", "knn", model_name="flowers", hyperparameters={"n_neighbors": k}
        )
        run_job(job["job_id"])
        done = fleet.get_job(job["job_id"])
        assert done["status"] == "succeeded", done
        results.append(done["result"])
    return results


def run_cli(fleet: TensorFleetClient, *args: str, stdin: str | bytes | None = None) -> Result:
    """``tensorfleet ARGS`` in-process with ``fleet`` as its client (output for people)."""
    return CliRunner().invoke(cli, list(args), obj=fleet, input=stdin, catch_exceptions=False)


def run_json(fleet: TensorFleetClient, *args: str, stdin: str | bytes | None = None) -> Result:
    """``tensorfleet --json ARGS``: the API's answers as JSON on stdout."""
    return run_cli(fleet, "--json", *args, stdin=stdin)


# the client


def test_references_aliases_tags_and_history(fleet, flowers) -> None:
    first, second = flowers
    moved = fleet.set_alias("flowers", "staging", 1)
    assert (moved["alias"], moved["version"], moved["model_id"]) == (
        "staging",
        1,
        first["model_id"],
    )
    assert fleet.get_model("flowers@staging")["model_id"] == first["model_id"]
    assert fleet.get_model("flowers@v2")["model_id"] == second["model_id"]
    assert fleet.get_model("flowers@latest")["version"] == 2
    assert fleet.get_model(first["model_id"])["aliases"] == ["staging"]
    fleet.set_alias("flowers", "staging", 2)
    assert [a["version"] for a in fleet.list_aliases("flowers")["items"]] == [2]
    history = fleet.list_aliases("flowers", history=True)["items"]
    assert [(h["from_version"], h["to_version"]) for h in history] == [(1, 2), (None, 1)]
    assert len(fleet.list_aliases("flowers", history=True, limit=1)["items"]) == 1

    tagged = fleet.update_model("flowers@v1", tags={"team": "risk", "tier": "gold"})
    assert tagged["tags"] == {"team": "risk", "tier": "gold"}
    untagged = fleet.update_model("flowers@v1", tags={"tier": None}, description="baseline")
    assert untagged["tags"] == {"team": "risk"} and untagged["description"] == "baseline"
    with pytest.raises(ValueError, match="tags or a description"):
        fleet.update_model("flowers@v1")
    found = fleet.list_models(name="flowers", tags={"team": "risk"})
    assert [m["model_id"] for m in found["items"]] == [first["model_id"]]
    assert [m["version"] for m in fleet.list_models(alias="staging", name="flowers")["items"]] == [
        2
    ]
    assert fleet.list_models(name="flowers", sort="-version", limit=1)["items"][0]["version"] == 2

    fleet.remove_alias("flowers", "staging")
    assert fleet.list_aliases("flowers")["items"] == []
    with pytest.raises(APIError) as missing:
        fleet.remove_alias("flowers", "staging")
    assert missing.value.status == 404


def test_the_client_has_a_method_for_every_route_of_the_api(
    app, fleet, adapter, flowers, run_job, tmp_path
) -> None:
    """Every route under /api/v1 (the docs aside) and the health checks: each one is asked
    by some client method (the requests sent are matched against Flask's URL map)."""
    model_id = flowers[0]["model_id"]
    assert fleet.health()["status"] == "ok" and fleet.ready()["status"] == "ready"
    # jobs
    assert fleet.list_jobs(status="succeeded", kind="train", limit=5)["total"] == 2
    assert fleet.get_job(fleet.get_model(model_id)["job_id"])["status"] == "succeeded"
    queued = fleet.submit_job("iris", "knn", model_name="to-cancel")
    assert fleet.cancel_job(queued["job_id"])["status"] == "cancelled"
    fleet.set_alias("flowers", "batch", 1)
    batch = fleet.submit_prediction_job("flowers@batch", "iris")
    run_job(batch["job_id"])
    assert fleet.download_output(batch["job_id"], tmp_path / "out.csv").stat().st_size > 0
    # datasets
    toy = "".join(f"{i * 7 % 5}.5,{i % 3},{i % 2}\n" for i in range(30))
    (tmp_path / "toy.csv").write_text("x1,x2,y\n" + toy)
    uploaded = fleet.upload_dataset(tmp_path / "toy.csv", "toy", "y", "a toy")
    assert (uploaded["name"], uploaded["version"]) == ("toy", 1)
    assert "toy" in {d["name"] for d in fleet.list_datasets(limit=100)["items"]}
    assert fleet.get_dataset("toy", version=1)["target"] == "y"
    assert [d["version"] for d in fleet.dataset_versions("toy")["items"]] == [1]
    assert fleet.delete_dataset("toy") is None
    # algorithms, statistics
    assert "knn" in {a["name"] for a in fleet.list_algorithms()["items"]}
    assert fleet.get_algorithm("knn")["name"] == "knn"
    assert fleet.statistics()["models"]["total"] == 2
    # the registry and predictions
    assert fleet.list_models(name="flowers")["total"] == 2
    assert fleet.get_model(model_id)["name"] == "flowers"
    assert fleet.update_model(model_id, description="d")["description"] == "d"
    assert fleet.download_model(model_id, tmp_path / "m.joblib").stat().st_size > 0
    assert fleet.list_aliases("flowers")["items"][0]["alias"] == "batch"
    assert fleet.predict("flowers@batch", [ROW])["predictions"] == ["setosa"]
    assert "items" in fleet.list_predictions("flowers@batch", limit=5)
    assert isinstance(fleet.monitoring("flowers", window=60), dict)
    with pytest.raises(APIError) as too_few:  # one logged row: not enough for a drift check
        fleet.drift("flowers@batch", since="2026-01-01T00:00:00Z")
    assert (too_few.value.status, too_few.value.code) == (409, "not_enough_data")
    fleet.remove_alias("flowers", "batch")
    # keys and the audit log
    key = fleet.create_key("ci", ["read"])
    assert key["key"] and fleet.get_key(key["id"])["name"] == "ci"
    assert key["id"] in {k["id"] for k in fleet.list_keys()["items"]}
    assert fleet.revoke_key(key["id"]) is None
    assert key["id"] in {k["id"] for k in fleet.list_keys(include_revoked=True)["items"]}
    assert isinstance(fleet.list_audit(limit=5)["items"], list)
    # searches
    search = fleet.submit_search("iris", "knn", {"n_neighbors": [1, 3]}, strategy="grid", cv=2)
    assert fleet.get_search(search["search_id"])["search_id"] == search["search_id"]
    assert fleet.list_searches(limit=5)["total"] >= 1
    assert fleet.search_trials(search["search_id"])["total"] == 2
    assert fleet.cancel_search(search["search_id"])["status"] == "cancelled"
    # schedules
    made = fleet.create_schedule("nightly", "0 3 * * *", {"dataset": "iris", "algorithm": "knn"})
    assert fleet.get_schedule(made["schedule_id"])["runs"] == []
    assert fleet.list_schedules(paused=False)["total"] == 1
    assert fleet.update_schedule(made["schedule_id"], paused=True)["paused"] is True
    assert fleet.delete_schedule(made["schedule_id"]) is None
    fleet.delete_model(model_id)

    urls = app.url_map.bind("tensorfleet.test")
    asked = {urls.match(urlsplit(r.url or "").path, method=r.method)[0] for r in adapter.sent}
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if (rule.rule.startswith("/api/v1/") and "/docs" not in rule.rule)
        or rule.endpoint in ("health.health", "health.ready")
    }
    assert routes - asked == set(), "no client method for these routes"


def test_unknown_references_are_404(fleet, flowers) -> None:
    for ref in ("flowers@nope", "flowers@v9", "nobody@latest", "not-an-id"):
        with pytest.raises(APIError) as caught:
            fleet.get_model(ref)
        assert (caught.value.status, caught.value.code) == (404, "not_found"), ref


def test_the_gate_refuses_a_worse_version_naming_both_scores(fleet, flowers, loaded_db) -> None:
    for version, f1 in ((1, 0.9), (2, 0.8)):
        loaded_db.models.update_one(
            {"name": "flowers", "version": version}, {"$set": {"metrics.f1_macro": f1}}
        )
    fleet.set_alias("flowers", "champion", 1)
    with pytest.raises(APIError) as refused:
        fleet.set_alias("flowers", "champion", 2, gate="f1_macro")
    assert refused.value.status == 409
    assert refused.value.details == {"candidate": 0.8, "current": 0.9, "metric": "f1_macro"}
    with pytest.raises(APIError):
        fleet.set_alias("flowers", "champion", 2, gate={"metric": "f1_macro", "min_delta": 0})
    assert fleet.get_model("flowers@champion")["version"] == 1
    # a negative min_delta lets a slightly worse version through
    assert fleet.set_alias("flowers", "champion", 2, gate="f1_macro", min_delta=-0.2)["version"]


def test_delete_is_refused_while_an_alias_points_at_the_version(fleet, flowers) -> None:
    fleet.set_alias("flowers", "staging", 2)
    with pytest.raises(APIError) as held:
        fleet.delete_model("flowers@v2")
    assert held.value.status == 409 and held.value.details["aliases"] == ["staging"]
    assert fleet.delete_model("flowers@v1") is None
    with pytest.raises(APIError):
        fleet.get_model("flowers@v1")


def test_predict_takes_records_rows_dataframes_bodies_and_csv(
    fleet, adapter, flowers, tmp_path
) -> None:
    fleet.set_alias("flowers", "champion", 1)
    answers = [
        fleet.predict("flowers@champion", [ROW, VIRGINICA]),
        fleet.predict("flowers@champion", [list(ROW.values()), list(VIRGINICA.values())]),
        fleet.predict("flowers@champion", pd.DataFrame([ROW, VIRGINICA])),
        fleet.predict("flowers@champion", {"inputs": [ROW, VIRGINICA]}),
        fleet.predict_csv("flowers@champion", CSV),
    ]
    (tmp_path / "rows.csv").write_bytes(CSV)
    answers.append(fleet.predict_csv("flowers@champion", tmp_path / "rows.csv"))
    answers.append(fleet.predict_csv("flowers@champion", str(tmp_path / "rows.csv")))
    with (tmp_path / "rows.csv").open("rb") as handle:
        answers.append(fleet.predict_csv("flowers@champion", handle))
    for answer in answers:
        assert answer["predictions"] == ["setosa", "virginica"]
        assert answer["model"] == {"id": flowers[0]["model_id"], "name": "flowers", "version": 1}
        assert answer["engine"] in ("sklearn", "onnx") and "probabilities" not in answer
    single = fleet.predict("flowers@v2", ROW, proba=True)
    assert single["predictions"] == ["setosa"]
    assert single["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(single["probabilities"]) == 1
    assert adapter.sent[-1].url.endswith("/api/v1/models/flowers@v2/predict?proba=true")
    assert json.loads(adapter.sent[-1].body) == {"dataframe_records": [ROW]}


def test_predict_sends_the_engine_and_reports_bad_columns(fleet, adapter, flowers) -> None:
    try:
        answer = fleet.predict("flowers@v1", [ROW], engine="sklearn")
    except APIError as error:  # a server that does not know ?engine= yet
        assert error.status == 400 and error.details["field"] == "engine", error.details
    else:
        assert answer["engine"] == "sklearn"
    assert adapter.sent[-1].url.endswith("/predict?engine=sklearn")
    with pytest.raises(APIError) as bad:
        fleet.predict("flowers@v1", [{**ROW, "colour": "red"}])
    assert bad.value.status == 400 and bad.value.details["unknown"] == ["colour"]


def test_predict_body_sends_missing_values_as_null() -> None:
    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]})
    body = predict_body(frame)
    assert body == {"dataframe_split": {"columns": ["a", "b"], "data": [[1.5, "x"], [None, None]]}}
    assert json.dumps(body, allow_nan=False)
    with pytest.raises(ValueError, match="infinity"):
        predict_body([{"a": float("inf")}])
    with pytest.raises(TypeError):
        predict_body("a,b\n1,2")


def test_download_by_reference_to_a_file_or_a_directory(fleet, flowers, tmp_path) -> None:
    fleet.set_alias("flowers", "champion", 2)
    path = fleet.download_model("flowers@champion", tmp_path / "m.joblib")
    sha = fleet.get_model("flowers@v2")["sha256"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    into = fleet.download_model("flowers@champion", tmp_path)
    assert into.parent == tmp_path and into.name.endswith(".joblib")
    assert into.read_bytes() == path.read_bytes()
    positional = fleet.download_model(flowers[0]["model_id"], tmp_path / "v1.joblib")
    assert positional.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.joblib", "v1.joblib", into.name]
    )


def test_a_checksum_mismatch_saves_nothing_and_keeps_an_older_file(tmp_path) -> None:
    headers = {
        "X-Checksum-SHA256": "0" * 64,
        "Content-Disposition": "attachment; filename=x.joblib",
    }
    fleet = client_on(CannedAdapter(headers=headers, body=b"not the file"))
    (tmp_path / "m.joblib").write_bytes(b"older")
    with pytest.raises(IntegrityError, match="nothing was saved"):
        fleet.download_model("m@v1", tmp_path / "m.joblib")
    assert (tmp_path / "m.joblib").read_bytes() == b"older"
    with pytest.raises(IntegrityError):
        fleet.download_output("job-1", tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.joblib"]


def test_a_server_that_ignores_the_format_is_refused(tmp_path) -> None:
    body = b"joblib bytes"
    headers = {
        "X-Checksum-SHA256": hashlib.sha256(body).hexdigest(),
        "Content-Disposition": "attachment; filename=m-v1.joblib",
    }
    fleet = client_on(CannedAdapter(headers=headers, body=body))
    with pytest.raises(FormatError, match=r"\.onnx"):
        fleet.download_model("m@v1", tmp_path / "m.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []
    assert fleet.download_model("m@v1", tmp_path, format="joblib").name == "m-v1.joblib"


def test_batch_prediction_jobs_are_submitted_with_their_fields() -> None:
    sent: list[requests.PreparedRequest] = []

    class Recording(CannedAdapter):
        def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
            sent.append(request)
            return super().send(request, **kw)

    fleet = client_on(Recording(status=202, body=b'{"job_id": "j", "status": "queued"}'))
    assert fleet.submit_prediction_job("m@champion", "iris")["job_id"] == "j"
    fleet.submit_prediction_job("m@v2", "iris", dataset_version=3, proba=True)
    bodies = [json.loads(r.body) for r in sent]
    assert bodies == [
        {"kind": "predict", "model": "m@champion", "dataset": "iris", "proba": False},
        {
            "kind": "predict",
            "model": "m@v2",
            "dataset": "iris",
            "dataset_version": 3,
            "proba": True,
        },
    ]
    assert all("Idempotency-Key" in r.headers for r in sent)


# the CLI


def test_cli_aliases_show_tag_and_list(fleet, flowers) -> None:
    done = run_json(fleet, "alias", "set", "flowers", "staging", "v1")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["version"] == 1
    moved = run_cli(fleet, "alias", "set", "flowers", "staging", "2")  # for people
    assert moved.exit_code == 0 and moved.stdout.startswith("flowers@staging → v2  (model id ")
    shown = json.loads(run_cli(fleet, "models", "show", "flowers@staging", "--json").stdout)
    assert shown["version"] == 2 and shown["aliases"] == ["staging"]
    listed = json.loads(run_json(fleet, "alias", "ls", "flowers").stdout)["items"]
    assert [(a["alias"], a["version"]) for a in listed] == [("staging", 2)]
    history = json.loads(run_json(fleet, "alias", "ls", "flowers", "--history").stdout)["items"]
    assert [(h["from_version"], h["to_version"]) for h in history] == [(1, 2), (None, 1)]
    table = run_cli(fleet, "alias", "ls", "flowers", "--history").stdout.splitlines()
    assert table[0].split() == ["alias", "from", "to", "by", "at"]
    assert [line.split()[:3] for line in table[1:3]] == [
        ["staging", "v1", "v2"],
        ["staging", "-", "v1"],
    ]

    tagged = run_json(
        fleet, "models", "tag", "flowers@v1", "team=risk", "note=a=b", "--description", "d"
    )
    assert json.loads(tagged.stdout)["tags"] == {"team": "risk", "note": "a=b"}
    removed = json.loads(run_json(fleet, "models", "tag", "flowers@v1", "--remove", "note").stdout)
    assert removed["tags"] == {"team": "risk"} and removed["description"] == "d"
    page = json.loads(run_json(fleet, "models", "--tag", "team=risk", "--sort", "-score").stdout)
    assert [m["version"] for m in page["items"]] == [1]
    page = json.loads(run_json(fleet, "models", "--name", "flowers", "--alias", "staging").stdout)
    assert [m["version"] for m in page["items"]] == [2]
    table = run_cli(fleet, "models", "--name", "flowers").stdout.splitlines()
    assert table[0].split() == ["model", "algorithm", "dataset", "score", "aliases", "tags",
                                "created"]  # fmt: skip
    assert [line.split()[:3] for line in table[1:3]] == [
        ["flowers@v2", "knn", "iris"],
        ["flowers@v1", "knn", "iris"],
    ]
    assert "team=risk" in table[2] and table[-1] == "models 1-2 of 2"

    assert run_cli(fleet, "alias", "rm", "flowers", "staging").exit_code == 0
    assert json.loads(run_json(fleet, "alias", "ls", "flowers").stdout)["items"] == []
    assert run_cli(fleet, "alias", "ls", "flowers").stdout == "(no aliases)\n"
    assert run_cli(fleet, "models", "rm", "flowers@v1").exit_code == 0
    gone = run_cli(fleet, "models", "show", "flowers@v1")
    assert gone.exit_code == 2 and json.loads(gone.stderr)["error"]["code"] == "not_found"
    assert run_cli(fleet, "delete", "flowers@v2").stderr == "deleted flowers@v2\n"
    assert json.loads(run_json(fleet, "models", "--name", "flowers").stdout)["items"] == []


def test_cli_predicts_json_rows_bodies_and_csv(fleet, flowers, tmp_path) -> None:
    fleet.set_alias("flowers", "champion", 1)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([ROW, VIRGINICA]))
    (tmp_path / "rows.csv").write_bytes(CSV)
    for args, stdin in (
        (["--json", str(rows)], None),
        (["--json", "-"], json.dumps({"dataframe_records": [ROW, VIRGINICA]})),
        (["--csv", str(tmp_path / "rows.csv")], None),
        (["--csv", "-"], CSV),
    ):
        done = run_json(fleet, "predict", "flowers@champion", *args, stdin=stdin)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["predictions"] == ["setosa", "virginica"], args
    proba = json.loads(
        run_json(fleet, "predict", "flowers@v2", "--json", str(rows), "--proba").stdout
    )
    assert proba["classes"] == ["setosa", "versicolor", "virginica"]
    table = run_cli(fleet, "predict", "flowers@v2", "--json", str(rows), "--proba").stdout
    lines = table.splitlines()
    assert lines[0].split() == ["row", "prediction", "p(setosa)", "p(versicolor)", "p(virginica)"]
    assert lines[1].split()[:2] == ["0", "setosa"] and lines[2].split()[:2] == ["1", "virginica"]
    assert lines[-1].startswith("model flowers@v2 (id ")


def test_cli_drift_prints_a_row_per_feature_and_the_verdict(fleet, flowers, app) -> None:
    iris = pd.read_csv(Path(__file__).resolve().parents[2] / "datasets" / "iris.csv")
    rows = iris.drop(columns="species").sample(60, random_state=0).to_dict("records")
    fleet.predict("flowers@v1", rows)
    app.extensions["tensorfleet.prediction_log"].flush()
    window = ("--since", "2020-01-01T00:00:00Z", "--until", "2999-01-01T00:00:00Z")
    lines = run_cli(fleet, "drift", "flowers@v1", *window).stdout
    table = lines.splitlines()
    assert table[0].split() == ["feature", "type", "test", "statistic", "p", "/", "distance",
                                "threshold", "psi", "drift"]  # fmt: skip
    assert table[1].split()[:3] == ["petal_length", "numeric", "ks"]  # the API sorts keys
    assert "drift: no (0 of 4 features drifted" in lines
    assert "60 logged rows" in lines and "reference: iris v1, 120 rows (train)" in lines
    answer = json.loads(run_json(fleet, "drift", "flowers@v1").stdout)
    assert answer["drift"] is False and answer["window"]["rows"] == 60
    refused = run_cli(fleet, "drift", "flowers@v1", "--since", "tomorrow")
    assert refused.exit_code == 2 and "validation_error" in refused.stderr


def test_cli_errors_are_one_line_with_an_exit_status(fleet, flowers, tmp_path, loaded_db) -> None:
    for version, f1 in ((1, 0.9), (2, 0.8)):
        loaded_db.models.update_one(
            {"name": "flowers", "version": version}, {"$set": {"metrics.f1_macro": f1}}
        )
    fleet.set_alias("flowers", "champion", 1)
    refused = run_cli(
        fleet, "alias", "set", "flowers", "champion", "2", "--gate-metric", "f1_macro"
    )
    assert refused.exit_code == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    error = json.loads(refused.stderr)["error"]
    assert error["code"] == "conflict" and error["details"]["candidate"] == 0.8, error

    missing = run_json(fleet, "predict", "flowers@nope", "--json", "-", stdin=json.dumps([ROW]))
    assert missing.exit_code == 2 and json.loads(missing.stderr)["error"]["code"] == "not_found"

    usage = [
        ["predict", "flowers@v1"],  # neither --json nor --csv
        ["alias", "set", "flowers", "x", "one"],
        ["alias", "set", "flowers", "x", "1", "--min-delta", "0.1"],
        ["models", "tag", "flowers@v1"],
        ["models", "--name", "flowers", "show", "flowers@v1"],
        ["download", "flowers@v1"],
        ["download", "flowers@v1", "--format", "pickle", str(tmp_path / "m")],
    ]
    for args in usage:
        done = run_cli(fleet, *args)
        assert done.exit_code == 2 and "Error:" in done.stderr and not done.stdout, args
        assert "Traceback" not in done.output
    bad_json = run_cli(fleet, "predict", "flowers@v1", "--json", "-", stdin="{not json")
    assert bad_json.exit_code == 2 and "--json: not JSON" in bad_json.stderr


def test_cli_downloads_by_reference(fleet, flowers, tmp_path) -> None:
    fleet.set_alias("flowers", "champion", 1)
    done = run_cli(fleet, "download", "flowers@champion", str(tmp_path / "m.joblib"))
    assert done.exit_code == 0, done.output
    assert Path(done.stdout.strip()) == tmp_path / "m.joblib"
    old_style = run_cli(fleet, "download", flowers[1]["model_id"], "-o", str(tmp_path / "o.joblib"))
    assert old_style.exit_code == 0 and (tmp_path / "o.joblib").stat().st_size > 0


def test_cli_download_refusals_and_connection_errors(tmp_path) -> None:
    headers = {"X-Checksum-SHA256": "0" * 64, "Content-Disposition": "attachment; filename=m.onnx"}
    mismatch = client_on(CannedAdapter(headers=headers, body=b"x"))
    done = run_cli(mismatch, "download", "m@v1", str(tmp_path / "m.onnx"), "--format", "onnx")
    assert done.exit_code == 3 and done.stderr.startswith("integrity error: ")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.onnx").exists()

    down = client_on(CannedAdapter(raises=requests.ConnectionError("refused\nby peer")))
    done = run_cli(down, "models", "show", "m@v1")
    assert done.exit_code == 4 and done.stdout == ""
    assert done.stderr == (
        f"error: cannot reach the TensorFleet API at {BASE}: refused by peer"
        " (is the server running? check --url or $TENSORFLEET_URL)\n"
    )


def test_cli_predict_batch_submits_and_reports(tmp_path) -> None:
    job = {"job_id": "j1", "status": "queued", "progress": {"percent": 0, "stage": "queued"}}
    fleet = client_on(CannedAdapter(status=202, body=json.dumps(job).encode()))
    done = run_json(fleet, "predict-batch", "m@champion", "iris", "--dataset-version", "2")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["job_id"] == "j1" and "queued j1" in done.stderr
    refused = client_on(
        CannedAdapter(
            status=400,
            body=json.dumps(
                {"error": {"code": "validation_error", "message": "kind: no", "details": {}}}
            ).encode(),
        )
    )
    done = run_cli(refused, "predict-batch", "m@champion", "iris")
    assert done.exit_code == 2 and json.loads(done.stderr)["error"]["code"] == "validation_error"


# hyperparameter searches: the client, the CLI's tables and progress


def _search(**overrides: Any) -> dict[str, Any]:
    """A search as ``GET /searches/<id>`` describes it."""
    board = [
        {"trial": 1, "job_id": "s1-trial-1", "status": "succeeded", "params": {"n_neighbors": 5},
         "hyperparameters": {}, "fold_scores": [0.96, 0.97, 0.97], "score": 0.966667,
         "score_std": 0.004714, "fit_time": 0.0123, "worker": "celery@worker-1", "error": None},
        {"trial": 0, "job_id": "s1-trial-0", "status": "succeeded", "params": {"n_neighbors": 1},
         "hyperparameters": {}, "fold_scores": [0.9, 0.95, 0.93], "score": 0.926667,
         "score_std": 0.020548, "fit_time": 0.011, "worker": "celery@worker-2", "error": None},
    ]  # fmt: skip
    search = {
        "search_id": "s1", "status": "succeeded", "strategy": "grid", "algorithm": "knn",
        "dataset": "iris", "dataset_version": 1, "metric": "f1_macro", "cv": 3,
        "model_name": "iris_knn", "promote": "challenger", "promoted": "challenger",
        "progress": {"total": 3, "queued": 0, "running": 0, "succeeded": 2, "failed": 1,
                     "cancelled": 0},
        "best": {"trial": 1, "params": {"n_neighbors": 5}, "score": 0.966667,
                 "score_std": 0.004714, "model_id": "m-best", "version": 4},
        "leaderboard": board, "error": None,
        "created_at": "2025-06-01T12:00:00Z", "started_at": "2025-06-01T12:00:00Z",
        "finished_at": "2025-06-01T12:00:09.500000Z",
    }  # fmt: skip
    return {**search, **overrides}


class Sequenced(BaseAdapter):
    """Answers the requests in turn with ``answers`` (status, body), the last one repeated,
    recording each request."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        super().__init__()
        self.answers, self.sent = list(answers), []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        self.sent.append(request)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return _response(request, status, {}, json.dumps(body).encode())

    def close(self) -> None:
        """Nothing to close."""


def test_submit_search_sends_the_body_with_an_idempotency_key() -> None:
    import numpy as np

    adapter = Sequenced((202, _search(status="running")))
    fleet = client_on(adapter)
    found = fleet.submit_search(
        "iris", "knn", {"n_neighbors": np.array([1, 5, 15]), "weights": ("uniform",)},
        strategy="grid", cv=3, budget={"trials": 3, "parallelism": 2}, promote="challenger",
    )  # fmt: skip
    assert found["search_id"] == "s1"
    request = adapter.sent[0]
    assert request.method == "POST" and request.url == f"{BASE}/api/v1/searches"
    assert request.headers["Idempotency-Key"]
    assert json.loads(request.body or b"") == {
        "dataset": "iris", "algorithm": "knn", "strategy": "grid",
        "space": {"n_neighbors": [1, 5, 15], "weights": ["uniform"]},
        "cv": 3, "budget": {"trials": 3, "parallelism": 2}, "promote": "challenger",
    }  # fmt: skip
    fleet.list_searches(status="running", dataset=None, limit=5)
    fleet.search_trials("s1", sort="trial", page=2, limit=3)
    fleet.cancel_search("s1")
    assert [(r.method, r.url) for r in adapter.sent[1:]] == [
        ("GET", f"{BASE}/api/v1/searches?status=running&limit=5"),
        ("GET", f"{BASE}/api/v1/searches/s1/trials?sort=trial&page=2&limit=3"),
        ("POST", f"{BASE}/api/v1/searches/s1/cancel"),
    ]


def test_wait_search_polls_until_the_search_ends_reporting_each_look() -> None:
    running = _search(status="running", best=None, finished_at=None)
    adapter = Sequenced((200, running), (200, running), (200, _search()))
    seen: list[str] = []
    done = client_on(adapter).wait_search("s1", timeout=10, poll=0.01, on_progress=lambda s:
                                           seen.append(s["status"]))  # fmt: skip
    assert done["status"] == "succeeded" and seen == ["running", "running", "succeeded"]
    stuck = client_on(Sequenced((200, running)))
    assert stuck.wait_search("s1", timeout=0.05, poll=0.01)["status"] == "running"


def test_the_leaderboard_and_trials_tables_fit_100_columns() -> None:
    from tensorfleet.tables import leaderboard_table, trials_table
    from tensorfleet.views import search_summary

    search = _search()
    long_params = {f"parameter_{i}": "a-rather-long-value" for i in range(8)}
    board = [*search["leaderboard"], {**search["leaderboard"][1], "trial": 2, "score": 0.5,
             "params": long_params, "worker": "celery@" + "w" * 60}]  # fmt: skip
    lines = render(leaderboard_table(board))
    assert lines[0].split() == ["rank", "trial", "score", "±", "std", "fit", "time", "worker",
                                "params"]  # fmt: skip
    assert lines[1].split()[:5] == ["1", "1", "0.9667", "±", "0.0047"]
    assert "0.012 s" in lines[1] and "celery@worker-1" in lines[1] and "n_neighbors=5" in lines[1]
    assert lines[2].split()[1] == "0" and lines[3].endswith("…")
    assert all(len(line) <= 100 for line in lines), [len(line) for line in lines]
    assert render(leaderboard_table([])) == ["(no trial has succeeded yet)"]
    assert all(len(line) <= 60 for line in render(leaderboard_table(board), width=60))

    failed = {**board[1], "trial": 7, "status": "failed", "score": None, "score_std": None,
              "fit_time": None, "worker": None, "error": {"message": "boom\nat 3"}}  # fmt: skip
    page = {"items": [board[0], failed], "page": 1, "limit": 2, "total": 3}
    table = render(trials_table(page, "-score"))
    assert table[2].split()[:3] == ["7", "failed", "-"] and table[2].endswith("! boom at 3")
    assert table[-1] == "trials 1-2 of 3, sorted by -score; more: --page 2"

    summary = search_summary(search)
    assert summary[0] == "search   s1  succeeded"
    assert summary[2] == "trials   3/3 ended: 2 succeeded, 1 failed, 0 cancelled"
    assert summary[3] == "best     trial 1: 0.9667 ± 0.0047  n_neighbors=5"
    assert summary[4] == (
        "model    iris_knn@v4  (model id m-best), promoted to iris_knn@challenger"
    )
    assert summary[-1].endswith("ended 2025-06-01 12:00:09 (9.500 s)")


def test_search_progress_draws_a_bar_on_a_terminal_else_one_line_per_change() -> None:
    from tensorfleet.cli.progress import SearchProgress

    running = _search(status="running", best=None, finished_at=None,
                      progress={"total": 3, "queued": 1, "running": 2, "succeeded": 0,
                                "failed": 0, "cancelled": 0})  # fmt: skip
    one = {**running, "progress": {**running["progress"], "queued": 0, "succeeded": 1},
           "best": {"trial": 0, "score": 0.9, "params": {}}}  # fmt: skip
    refitting = {**running, "progress": {**running["progress"], "queued": 0, "running": 0,
                                         "succeeded": 3}}  # fmt: skip
    log = io.StringIO()
    with SearchProgress(3, log) as progress:  # not a terminal
        for search in (running, running, one, one, refitting, _search()):
            progress(search)
    assert log.getvalue().splitlines() == [
        "search s1: 0/3 trials ended; 2 running, 1 queued",
        "search s1: 1/3 trials ended; 2 running, best 0.9000 (trial 0)",
        "search s1: 3/3 trials ended; refitting the best",
        "search s1: 3/3 trials ended; 1 failed, succeeded, best 0.9667 (trial 1)",
    ]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with SearchProgress(3, screen) as progress:
        for search in (running, one, refitting):
            progress(search)
    drawn = screen.getvalue()
    assert "\r" in drawn and "trials" in drawn and "━" in drawn  # a rich bar, redrawn in place
    assert "0/3" in drawn and "2 running, 1 queued" in drawn  # drawn before any trial ends
    assert "1/3" in drawn and "3/3" in drawn and "refitting the best" in drawn
    assert drawn.replace("\x1b[?25h", "").endswith("\n")  # the last state stays, a line


def test_cli_search_start_waits_and_prints_the_leaderboard(
    fleet, loaded_db, celery, redis, run_job, monkeypatch, tmp_path
) -> None:
    from types import SimpleNamespace

    import tensorfleet.client
    from app.services.searches import advance

    done: set[str] = set()

    def run_one(_: float) -> None:  # each poll of wait_search: a worker runs one more job
        pending = [m["args"][0] for m in celery.sent if m["args"][0] not in done]
        if pending:
            done.add(pending[0])
            run_job(pending[0])
            job = loaded_db.jobs.find_one({"_id": pending[0]})
            advance(loaded_db, celery, redis, job["search_id"])

    fake_time = SimpleNamespace(monotonic=lambda: 0.0, sleep=run_one)
    monkeypatch.setattr(tensorfleet.client, "time", fake_time)
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"n_neighbors": [1, 5, 15]}))
    started = run_cli(
        fleet, "search", "start", "iris", "knn", "--strategy", "grid", "--space", f"@{space}",
        "--cv", "3", "--trials", "3", "--parallelism", "2", "--model-name", "searched",
        "--promote", "challenger", "--wait",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    search_id = started.stderr.split()[2].rstrip(":")
    assert "search " + search_id + ": 0/3 trials ended; 2 queued" in started.stderr
    lines = started.stdout.splitlines()
    assert lines[0] == f"search   {search_id}  succeeded"
    model = loaded_db.models.find_one({"name": "searched"})
    assert (
        f"model    searched@v1  (model id {model['_id']}), promoted to searched@challenger" in lines
    )
    header = lines.index(next(line for line in lines if line.startswith("rank")))
    ranks = [line.split() for line in lines[header + 1 : header + 4]]
    assert [r[0] for r in ranks] == ["1", "2", "3"]
    scores = [float(r[2]) for r in ranks]
    assert scores == sorted(scores, reverse=True)
    assert all(len(line) <= 100 for line in lines)

    shown = run_cli(fleet, "search", "show", search_id, "--json")
    assert json.loads(shown.stdout)["best"]["model_id"] == str(model["_id"])
    trials = run_cli(fleet, "search", "trials", search_id, "--sort", "trial", "--limit", "2")
    assert trials.exit_code == 0 and trials.stdout.splitlines()[1].split()[:2] == ["0", "succeeded"]
    listed = run_cli(fleet, "search", "ls", "--status", "succeeded")
    assert search_id in listed.stdout and "3/3" in listed.stdout
    again = run_cli(fleet, "search", "cancel", search_id)
    assert again.exit_code == 2 and json.loads(again.stderr)["error"]["code"] == "conflict"


def test_cli_search_errors_and_a_cancelled_wait(tmp_path) -> None:
    usage = [
        ["search", "start", "iris", "knn"],  # no --space
        ["search", "start", "iris", "knn", "--space", "{nope"],
        ["search", "start", "iris", "knn", "--space", "[1, 2]"],
        ["search", "start", "iris", "knn", "--space", f"@{tmp_path / 'missing.json'}"],
        ["search", "start", "iris", "knn", "--space", "{}", "--strategy", "bayes"],
        ["search", "trials", "s1", "--sort", "worker"],
    ]
    for args in usage:
        done = run_cli(client_on(Sequenced((200, {}))), *args)
        assert done.exit_code == 2 and "Error:" in done.stderr and not done.stdout, args
    refused = {"error": {"code": "validation_error", "message": "Unknown hyperparameter 'k'.",
                         "details": {"field": "space.k"}}}  # fmt: skip
    done = run_cli(client_on(Sequenced((400, refused))), "search", "start", "iris", "knn",
                   "--space", '{"k": [1]}')  # fmt: skip
    assert done.exit_code == 2 and done.stdout == ""
    assert json.loads(done.stderr)["error"]["details"]["field"] == "space.k"

    running = _search(status="running", best=None, finished_at=None)
    cancelled = _search(status="cancelled", best=None, promoted=None)
    fleet = client_on(Sequenced((202, running), (200, cancelled)))
    done = run_cli(fleet, "search", "start", "iris", "knn", "--space", '{"n_neighbors": [1]}',
                   "--wait", "--json")  # fmt: skip
    assert done.exit_code == 1 and json.loads(done.stdout)["status"] == "cancelled"
    assert done.stderr.splitlines()[-1] == "search s1 cancelled"

    fleet = client_on(Sequenced((202, running), (200, running)))
    done = run_cli(fleet, "search", "start", "iris", "knn", "--space", '{"n_neighbors": [1]}',
                   "--wait", "--timeout", "0.05")  # fmt: skip
    assert done.exit_code == 1 and done.stdout.startswith("search   s1  running")
    assert done.stderr.splitlines()[-1] == "search s1 still running after 0.05 s (search show s1)"
