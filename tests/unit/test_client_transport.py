"""The client's HTTP layer (``tensorfleet.transport``) on a scripted transport: what is
retried (503 with backoff or its Retry-After, failed connections), how often, what never
is, and which error each kind of failure becomes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

import tensorfleet.transport
from tensorfleet import (
    APIError,
    RequestTimeoutError,
    RetryPolicy,
    TensorFleetClient,
    UnexpectedResponseError,
    UnreachableError,
)
from tensorfleet.transport import normalize_base_url

BASE = "http://fleet.test"
UNAVAILABLE = (503, {}, {"error": {"code": "service_unavailable", "message": "Redis is down."}})
JOB = {"job_id": "j1", "status": "queued", "progress": {"stage": "queued", "percent": 0}}
Answer = tuple[int, dict[str, str], Any] | Exception


class Scripted(BaseAdapter):
    """Answers request n with ``answers[n]`` (the last one repeated): ``(status, headers,
    body)`` (a dict or list body is sent as JSON) or an exception to raise. Records what
    was sent: method, URL, headers and the body's bytes."""

    def __init__(self, *answers: Answer) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        self.sent.append(
            {"method": request.method, "url": request.url, "headers": dict(request.headers),
             "body": body.encode() if isinstance(body, str) else body}
        )  # fmt: skip
        answer = self.answers[min(len(self.sent), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        status, headers, content = answer
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        response = requests.Response()
        response.status_code, response.raw = status, io.BytesIO(raw)
        kind = "application/json" if not isinstance(content, bytes) else "text/html"
        response.headers = CaseInsensitiveDict({"Content-Type": kind, **headers})
        response.url, response.request, response.encoding = request.url or "", request, "utf-8"
        return response

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The transport's sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(tensorfleet.transport.time, "sleep", slept.append)
    return slept


def client_on(adapter: Scripted, **retry: Any) -> TensorFleetClient:
    session = requests.Session()
    session.mount(BASE, adapter)
    return TensorFleetClient(BASE, api_key="k", session=session, retry=RetryPolicy(**retry))


def test_a_503_is_retried_with_backoff_then_answered(pauses) -> None:
    adapter = Scripted(UNAVAILABLE, UNAVAILABLE, (200, {}, {"items": [], "total": 0}))
    fleet = client_on(adapter, retries=2, backoff=0.5, max_backoff=8)
    assert fleet.list_models() == {"items": [], "total": 0}
    assert len(adapter.sent) == 3
    assert 0.25 <= pauses[0] <= 0.5 and 0.5 <= pauses[1] <= 1.0  # jittered, doubling


def test_retries_are_bounded_then_the_503_is_raised(pauses) -> None:
    adapter = Scripted(UNAVAILABLE)
    with pytest.raises(APIError) as caught:
        client_on(adapter, retries=3, backoff=10, max_backoff=2).list_models()
    assert (caught.value.status, caught.value.code) == (503, "service_unavailable")
    assert len(adapter.sent) == 4 and len(pauses) == 3
    assert all(1.0 <= p <= 2.0 for p in pauses)  # capped at max_backoff
    with pytest.raises(APIError):
        client_on(none := Scripted(UNAVAILABLE), retries=0).list_models()
    assert len(none.sent) == 1


def test_retry_after_is_honoured_in_seconds_or_as_a_date_and_bounded(pauses) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    adapter = Scripted(
        (503, {"Retry-After": "3"}, UNAVAILABLE[2]),
        (503, {"Retry-After": later}, UNAVAILABLE[2]),
        (200, {}, {"items": []}),
    )
    client_on(adapter, retries=2, max_retry_after=30).list_jobs()
    assert pauses[0] == 3.0 and 18 <= pauses[1] <= 20
    pauses.clear()
    too_long = Scripted((503, {"Retry-After": "3600"}, UNAVAILABLE[2]), (200, {}, {}))
    with pytest.raises(APIError) as caught:
        client_on(too_long, retries=2, max_retry_after=30).list_jobs()
    assert caught.value.status == 503 and len(too_long.sent) == 1 and pauses == []


def test_a_submit_is_retried_with_the_same_idempotency_key(pauses) -> None:
    adapter = Scripted(UNAVAILABLE, requests.ConnectionError("reset"), (202, {}, JOB))
    assert client_on(adapter, retries=2).submit_job("iris", "knn")["job_id"] == "j1"
    keys = {sent["headers"]["Idempotency-Key"] for sent in adapter.sent}
    assert len(adapter.sent) == 3 and len(keys) == 1
    assert {json.loads(sent["body"])["dataset"] for sent in adapter.sent} == {"iris"}


def test_an_upload_is_sent_whole_again_after_a_dropped_connection(pauses, tmp_path) -> None:
    (tmp_path / "d.csv").write_bytes(b"a,b\n1,2\n3,4\n")
    created = {"name": "d", "version": 1}
    adapter = Scripted(requests.ConnectionError("dropped"), (201, {}, created))
    assert client_on(adapter).upload_dataset(tmp_path / "d.csv", "d", "b") == created
    first, second = (sent["body"] for sent in adapter.sent)
    assert first.count(b"\r\n\r\na,b\n1,2\n3,4\n\r\n") == 1  # the file, whole, each time
    assert second.count(b"\r\n\r\na,b\n1,2\n3,4\n\r\n") == 1
    keys = [sent["headers"]["Idempotency-Key"] for sent in adapter.sent]
    assert keys[0] == keys[1]


def test_what_is_not_safe_to_repeat_is_not_retried(pauses) -> None:
    cancel = Scripted(UNAVAILABLE, (202, {}, JOB))
    with pytest.raises(APIError):
        client_on(cancel).cancel_job("j1")  # a POST without an Idempotency-Key
    assert len(cancel.sent) == 1
    key = Scripted(requests.ConnectionError("refused"), (201, {}, {"id": "key_1"}))
    with pytest.raises(UnreachableError):
        client_on(key).create_key("ci", ["read"])  # no Idempotency-Key: could make two
    assert len(key.sent) == 1
    predict = Scripted(UNAVAILABLE, (200, {}, {"predictions": ["setosa"]}))
    assert client_on(predict).predict("m@v1", [{"a": 1}])["predictions"] == ["setosa"]
    assert len(predict.sent) == 2  # a prediction changes nothing: retried


def test_a_server_that_cannot_be_reached_is_an_unreachable_error(pauses) -> None:
    refused = requests.ConnectionError(
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to "
        "establish a new connection: [Errno 111] Connection refused'))"
    )
    adapter = Scripted(refused)
    with pytest.raises(UnreachableError) as caught:
        client_on(adapter, retries=2).get_job("j1")
    assert len(adapter.sent) == 3 and len(pauses) == 2
    error = caught.value
    assert isinstance(error, requests.ConnectionError)  # what callers caught before
    assert error.reason == "Connection refused" and error.url == BASE
    assert str(error) == f"cannot reach the TensorFleet API at {BASE}: Connection refused"


def test_timeouts_a_connect_timeout_is_retried_a_read_timeout_is_not(pauses) -> None:
    connect = Scripted(requests.ConnectTimeout("connect"), (200, {}, JOB))
    assert client_on(connect).get_job("j1")["job_id"] == "j1" and len(connect.sent) == 2
    read = Scripted(requests.ReadTimeout("read"), (200, {}, JOB))
    fleet = client_on(read)
    fleet.timeout = 1.5
    with pytest.raises(RequestTimeoutError) as caught:
        fleet.get_job("j1")
    assert len(read.sent) == 1 and caught.value.seconds == 1.5
    assert isinstance(caught.value, requests.Timeout)
    assert str(caught.value) == f"the TensorFleet API at {BASE} gave no answer within 1.5 s"


def test_answers_that_are_not_the_apis_are_unexpected_responses(pauses) -> None:
    page = b"<html><body><h1>404 Not Found</h1>nginx</body></html>"
    with pytest.raises(UnexpectedResponseError) as html:
        client_on(Scripted((404, {}, page))).list_models()
    assert isinstance(html.value, APIError) and html.value.status == 404
    assert html.value.code == "unexpected_response" and html.value.content_type == "text/html"
    assert html.value.message == (
        f"{BASE}/api/v1/models answered HTTP 404 (text/html), not the TensorFleet API's JSON"
    )
    assert "404 Not Found" in html.value.details["body"]
    with pytest.raises(UnexpectedResponseError) as plain:  # a 200 that is not JSON
        client_on(Scripted((200, {"Content-Type": "text/plain"}, b"# HELP up"))).statistics()
    assert plain.value.status == 200 and plain.value.content_type == "text/plain"
    other_json = (404, {}, {"detail": "Not Found"})  # another JSON API's error
    with pytest.raises(UnexpectedResponseError):
        client_on(Scripted(other_json)).list_models()
    refused = {"error": {"code": "not_found", "message": "No model.", "details": {"ref": "x"}}}
    with pytest.raises(APIError) as api:
        client_on(Scripted((404, {}, refused))).get_model("x")
    assert type(api.value) is APIError and api.value.as_body() == refused


def test_base_urls_are_normalised_and_checked() -> None:
    assert normalize_base_url("http://h:8000/") == "http://h:8000"
    assert normalize_base_url(" https://h/api/v1/ ") == "https://h"
    assert normalize_base_url("http://h:8000/prefix") == "http://h:8000/prefix"
    for wrong in ("127.0.0.1:8000", "ftp://h", "http://", ""):
        with pytest.raises(ValueError, match="not an http"):
            normalize_base_url(wrong)
    fleet = TensorFleetClient("http://h:1/api/v1", api_key="tf_x")
    assert fleet._url("/jobs") == "http://h:1/api/v1/jobs" and fleet._url("/ready", api=False)
    assert fleet.session.headers["Authorization"] == "Bearer tf_x"
    assert fleet.session.headers["User-Agent"].startswith("tensorfleet-client/")


def test_from_env_reads_the_url_and_the_key(monkeypatch) -> None:
    monkeypatch.setenv("TENSORFLEET_URL", "http://fleet.example:9000/")
    monkeypatch.setenv("TENSORFLEET_API_KEY", "tf_env")
    fleet = TensorFleetClient.from_env(timeout=5)
    assert (fleet.base_url, fleet.timeout) == ("http://fleet.example:9000", 5)
    assert fleet.session.headers["Authorization"] == "Bearer tf_env"
    monkeypatch.delenv("TENSORFLEET_URL")
    monkeypatch.delenv("TENSORFLEET_API_KEY")
    bare = TensorFleetClient.from_env()
    assert bare.base_url == "http://127.0.0.1:8000" and "Authorization" not in bare.session.headers


def test_wait_reports_each_look_and_stops_at_the_timeout() -> None:
    running = {**JOB, "status": "running", "progress": {"stage": "fitting", "percent": 40}}
    done = {**JOB, "status": "succeeded", "progress": {"stage": "done", "percent": 100}}
    adapter = Scripted((200, {}, JOB), (200, {}, running), (200, {}, done))
    seen: list[dict[str, Any]] = []
    job = client_on(adapter).wait("j1", timeout=10, poll=1, on_progress=seen.append)
    assert job["status"] == "succeeded"
    assert [j["status"] for j in seen] == ["queued", "running", "succeeded"]
    assert [s["url"] for s in adapter.sent][1:] == [f"{BASE}/api/v1/jobs/j1?wait=1"] * 2
    stuck = Scripted((200, {}, running))
    assert client_on(stuck).wait("j1", timeout=0)["status"] == "running"
    assert len(stuck.sent) == 1
