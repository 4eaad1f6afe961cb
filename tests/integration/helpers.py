"""Shared helpers of the HTTP integration tests: submit and wait, error checks, GridFS access.

Every wait here is bounded; a timeout fails the test with the last state seen. Every client
of the API made here sends an admin key (:data:`ADMIN_KEY` unless told otherwise).
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pymongo
import pytest
import redis
import requests
from pymongo.database import Database

from localstack import LocalStack

FINISHED = ("succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")
JOB_TIMEOUT = 90.0  # generous for 2 cores; small jobs take a second or two
# A job slow enough to be caught running and cancelled (minutes if left alone).
SLOW_JOB = {
    "dataset": "digits",
    "algorithm": "gradient_boosting",
    "hyperparameters": {"n_estimators": 2000},
}
# The admin key of every stack the tests start through ``make_stack_config`` (conftest), new
# for each test session; the API accepts it as TENSORFLEET_ADMIN_KEY.
ADMIN_KEY = "tf_test_" + secrets.token_urlsafe(32)


def auth_headers(key: str = ADMIN_KEY) -> dict[str, str]:
    """The header that authenticates a request to the API with ``key``."""
    return {"Authorization": f"Bearer {key}"}


class Api:
    """A ``requests.Session`` on the API's base URL (for module-scoped fixtures)."""

    def __init__(self, session: requests.Session, base_url: str) -> None:
        self.session, self.base_url = session, base_url

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; a 30 s timeout unless given."""
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)


@contextmanager
def api_client(target: str | LocalStack, key: str | None = None) -> Iterator[Api]:
    """An :class:`Api` on a stack (its URL and admin key) or a base URL, closed afterwards.

    Every request sends ``key``: by default the stack's admin key, or :data:`ADMIN_KEY` (the
    key of every stack made by ``make_stack_config``) for a bare URL.
    """
    if isinstance(target, LocalStack):
        base_url, key = target.api_url, key or target.admin_key
    else:
        base_url = target
    with requests.Session() as session:
        session.headers.update(auth_headers(key or ADMIN_KEY))
        yield Api(session, base_url)


@contextmanager
def redis_client(stack: LocalStack) -> Iterator[redis.Redis]:
    """A client of the stack's Redis (``stack.redis_url`` carries the password)."""
    with redis.Redis.from_url(stack.redis_url, socket_timeout=10) as client:
        yield client


def unique(prefix: str) -> str:
    """A name no other test of the session uses (the stack is shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def submit(api: Any, **body: Any) -> dict[str, Any]:
    """POST a job; asserts 202 and the Location header; returns the job."""
    response = api.post("/api/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"].endswith(f"/api/v1/jobs/{job['job_id']}")
    assert job["status"] == "queued"
    return job


def get_job(api: Any, job_id: str, wait: float = 0) -> dict[str, Any]:
    """GET one job (long polling up to ``wait`` seconds)."""
    params = {"wait": wait} if wait else None
    response = api.get(f"/api/v1/jobs/{job_id}", params=params, timeout=wait + 30)
    assert response.status_code == 200, response.text
    return response.json()


def wait_job(api: Any, job_id: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    """The job once it has ended, long polling in slices; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        job = get_job(api, job_id, wait=max(0.1, min(left, 10.0)))
        if job["status"] in FINISHED:
            return job
        if time.monotonic() >= deadline:
            raise AssertionError(f"job {job_id} not finished after {timeout:g}s: {job}")


def submit_and_wait(api: Any, timeout: float = JOB_TIMEOUT, **body: Any) -> dict[str, Any]:
    """Submit a job and return it once ended."""
    return wait_job(api, submit(api, **body)["job_id"], timeout)


def poll(
    check: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Call ``check`` until it returns something truthy (returned); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met after {timeout:g}s")
        time.sleep(interval)


def wait_running(
    api: Any, job_id: str, stage: str | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """The job once a worker runs it (and has reached ``stage`` if given); fails if it ends."""

    def running() -> dict[str, Any] | None:
        job = get_job(api, job_id)
        assert job["status"] in ACTIVE, f"job ended before it was seen running: {job}"
        reached = stage is None or job["progress"]["stage"] == stage
        return job if job["status"] == "running" and reached else None

    return poll(running, timeout, what=f"job {job_id} running")


def exported(get_model: Callable[[], dict[str, Any]], timeout: float = 60.0) -> dict[str, Any]:
    """The model ``get_model()`` returns, once its ONNX copy is no longer pending (a worker
    makes it right after the job)."""

    def settled() -> dict[str, Any] | None:
        model = get_model()
        return model if model["formats"]["onnx"]["status"] != "pending" else None

    return poll(settled, timeout, what="the ONNX export")


def wait_onnx(api: Any, ref: str, timeout: float = 60.0) -> dict[str, Any]:
    """``GET /api/v1/models/<ref>`` once its ONNX copy is no longer pending."""
    return exported(lambda: api.get(f"/api/v1/models/{ref}").json(), timeout)


def cancel(api: Any, job_id: str) -> requests.Response:
    """POST the cancel of a job."""
    return api.post(f"/api/v1/jobs/{job_id}/cancel")


def cancel_quietly(api: Any, job_ids: list[str]) -> None:
    """Clean-up: cancel every job still active (so the shared workers are free again)."""
    for job_id in job_ids:
        with suppress(requests.RequestException):
            cancel(api, job_id)


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict:
    """``response`` is the JSON error ``{"error": {"code", "message", "details"}}``; returns it."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def jobs_total(api: Any) -> int:
    """How many jobs the API knows."""
    response = api.get("/api/v1/jobs", params={"limit": 1})
    assert response.status_code == 200, response.text
    return response.json()["total"]


def models_of(api: Any, **filters: Any) -> dict[str, Any]:
    """``GET /api/v1/models`` with ``filters``; the page."""
    response = api.get("/api/v1/models", params=filters)
    assert response.status_code == 200, response.text
    return response.json()


def upload_dataset(
    api: Any,
    name: str,
    content: bytes,
    target: str,
    description: str = "",
    content_type: str = "text/csv",
) -> requests.Response:
    """POST a CSV as multipart (``file``, ``name``, ``target``, ``description``)."""
    files = {"file": (f"{name}.csv", io.BytesIO(content), content_type)}
    data = {"name": name, "target": target, "description": description}
    return api.post("/api/v1/datasets", files=files, data=data)


def download(api: Any, model_id: str) -> requests.Response:
    """GET a model's artifact (streamed fully into ``.content``)."""
    return api.get(f"/api/v1/models/{model_id}/download", timeout=120)


@contextmanager
def mongo(stack: LocalStack) -> Iterator[Database]:
    """The stack's MongoDB database, through a client of our own."""
    with pymongo.MongoClient(stack.mongodb_url, serverSelectionTimeoutMS=5000) as client:
        yield client[stack.config.mongodb_db]


def model_files(db: Database, job_id: str) -> list[dict[str, Any]]:
    """GridFS model files a job uploaded (committed or not)."""
    return list(db["fs.files"].find({"metadata.kind": "model", "metadata.job_id": job_id}))


def chunks_of(db: Database, file_id: Any, window: int = 8) -> list[int]:
    """Sorted ``n`` of the GridFS chunks of ``file_id``, read a few at a time.

    The local server ignores ``find`` projections when sizing its reply and refuses replies
    over 48 MB, has no ``count_documents``/aggregation on fs.chunks, and finds chunks only
    by ``files_id``: so windows of ``n``, as the app itself reads them.
    """
    found: list[int] = []
    while True:
        query = {"files_id": file_id, "n": {"$gte": len(found), "$lt": len(found) + window}}
        batch = [doc["n"] for doc in db["fs.chunks"].find(query)]
        found += batch
        if len(batch) < window:
            break
    stragglers = db["fs.chunks"].find_one({"files_id": file_id, "n": {"$gte": len(found)}})
    assert stragglers is None, f"chunk n={stragglers['n']} of {file_id} after a gap"
    return sorted(found)


PREDICT_SCRIPT = """
import json, sys
import joblib, pandas as pd
model = joblib.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
predictions = model.predict(frame[json.loads(sys.argv[3])])
leaked = sorted(name for name in sys.modules if name == "app" or name.startswith("app."))
print(json.dumps({"predictions": [str(p) for p in predictions], "leaked": leaked}))
"""


def predict_in_fresh_process(
    model_path: Path, csv_path: Path, columns: list[str], workdir: Path
) -> list[str]:
    """Load the artifact with joblib in a new interpreter (no project on its path) and predict.

    ``-I`` (isolated mode) keeps the project and PYTHONPATH off ``sys.path``, so the model
    must load with scikit-learn, pandas and numpy alone.
    """
    import json

    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            PREDICT_SCRIPT,
            str(model_path),
            str(csv_path),
            json.dumps(columns),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["leaked"] == [], f"the model pulled in TensorFleet modules: {out['leaked']}"
    return out["predictions"]


def require_binary(name: str, package: str) -> str:
    """Path of ``name``; skipped when absent, but a failure in CI, where .ci/run installs it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed (Debian package `{package}`)"
        if os.environ.get("CI"):
            pytest.fail(message + ": .ci/run should have installed it")
        pytest.skip(message)
    return path


def listen_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
                else:
                    found.add(f"ipv6:{address}")
    return found
