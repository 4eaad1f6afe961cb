"""The CLI's own parsing, with no server: ``-p name=value`` as a user means it, the URL
and key from the environment or the options, and one line for what cannot be reached."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import BaseAdapter

from tensorfleet import RetryPolicy, TensorFleetClient
from tensorfleet.cli import cli
from tensorfleet.cli.common import parse_param, parse_value
from tensorfleet.cli.progress import JobProgress
from tests.unit.test_client_transport import JOB, Scripted


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("200", 200),
        ("0.1", 0.1),
        ("1e-3", 0.001),
        ("-1", -1),
        ("None", None),
        ("null", None),
        ("true", True),
        ("True", True),
        ("False", False),
        ("[1, 5, 15]", [1, 5, 15]),
        ("(100, 50)", [100, 50]),
        ("[3, None]", [3, None]),
        ('{"a": 1}', {"a": 1}),
        ("gini", "gini"),
        ("none", "none"),
        ('"None"', "None"),
        ("'balanced'", "balanced"),
        ("sqrt", "sqrt"),
        ("", ""),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("1e999", "1e999"),
        ("{1, 2}", "{1, 2}"),
        ("1j", "1j"),
    ],
)
def test_a_parameter_value_is_read_as_a_user_means_it(text: str, value: Any) -> None:
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_a_parameter_needs_a_name_and_an_equals_sign() -> None:
    assert parse_param("max_depth=None") == ("max_depth", None)
    assert parse_param("class_weight=a=b") == ("class_weight", "a=b")
    for wrong in ("max_depth", "=3"):
        with pytest.raises(Exception, match="expected name=value"):
            parse_param(wrong)


def _recording_client(adapter: BaseAdapter) -> TensorFleetClient:
    session = requests.Session()
    session.mount("http://fleet.test", adapter)
    return TensorFleetClient("http://fleet.test", session=session, retry=RetryPolicy(retries=0))


def test_submit_sends_the_parameters_and_the_job_options() -> None:
    adapter = Scripted((202, {}, JOB))
    args = ["--json", "submit", "iris", "random_forest", "-p", "n_estimators=200", "-p",
            "max_depth=None", "-p", "criterion=entropy", "--model-name", "rf", "--test-size",
            "0.3", "--random-state", "7"]  # fmt: skip
    done = CliRunner().invoke(cli, args, obj=_recording_client(adapter), catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["job_id"] == "j1" and done.stderr == "queued j1\n"
    assert json.loads(adapter.sent[0]["body"]) == {
        "dataset": "iris",
        "algorithm": "random_forest",
        "hyperparameters": {"n_estimators": 200, "max_depth": None, "criterion": "entropy"},
        "model_name": "rf",
        "test_size": 0.3,
        "random_state": 7,
    }
    bad = CliRunner().invoke(cli, ["submit", "iris", "knn", "-p", "k"], obj=_recording_client(
        adapter))  # fmt: skip
    assert bad.exit_code == 2 and "expected name=value" in bad.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_url_comes_from_the_environment_and_the_option_overrides_it() -> None:
    env_url = f"http://127.0.0.1:{_free_port()}"
    runner = CliRunner()
    from_env = runner.invoke(cli, ["--retries", "0", "jobs"], env={"TENSORFLEET_URL": env_url})
    assert from_env.exit_code == 4 and from_env.stdout == ""
    assert from_env.stderr == (
        f"error: cannot reach the TensorFleet API at {env_url}: Connection refused"
        " (is the server running? check --url or $TENSORFLEET_URL)\n"
    )
    other = f"http://127.0.0.1:{_free_port()}"
    overridden = runner.invoke(
        cli, ["--url", other, "--retries", "0", "jobs"], env={"TENSORFLEET_URL": env_url}
    )
    assert overridden.exit_code == 4 and f"at {other}:" in overridden.stderr
    wrong = runner.invoke(cli, ["--url", "127.0.0.1:8000", "jobs"])
    assert wrong.exit_code == 2 and wrong.stderr.count("\n") == 1
    assert wrong.stderr.startswith("error: --url: not an http(s) URL with a host")


def test_a_job_is_drawn_as_a_bar_on_a_terminal_and_ctrl_c_stops_only_the_wait() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    fitting = {**JOB, "status": "running", "progress": {"stage": "fitting", "percent": 40}}
    done = {**JOB, "status": "succeeded", "progress": {"stage": "done", "percent": 100}}
    with JobProgress(screen) as progress:
        for job in (JOB, fitting, done):
            progress(job)
    drawn = screen.getvalue()
    assert "\r" in drawn and "━" in drawn and "training" in drawn
    assert " 40%" in drawn and "running: fitting" in drawn and "100%" in drawn

    fleet = _recording_client(Scripted((202, {}, JOB)))

    def interrupted(*_: Any, **__: Any) -> dict[str, Any]:
        raise KeyboardInterrupt

    fleet.wait = interrupted  # type: ignore[method-assign]
    waited = CliRunner().invoke(cli, ["submit", "iris", "knn", "--wait"], obj=fleet)
    assert waited.exit_code == 130 and waited.stdout == ""
    assert waited.stderr.splitlines()[-1] == (
        "stopped waiting: job j1 goes on (status j1; cancel j1 stops it)"
    )
