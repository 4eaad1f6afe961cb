"""A small Python client of the TensorFleet HTTP API (``requests``).

from app.client import TensorFleetClient
fleet = TensorFleetClient("http://127.0.0.1:8000", api_key="tf_…")
job = fleet.submit_job("iris", "random_forest", hyperparameters={"n_estimators": 50})
job = fleet.wait(job["job_id"], timeout=120)
fleet.download_model(job["result"]["model_id"], "iris_rf.joblib")

Every submit and upload carries an ``Idempotency-Key``, and is retried with the same
key after a dropped connection, so a retry never makes a second job. Downloads are
checked against the SHA-256 the server sends; a mismatch is refused and the file removed.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from app.statuses import FINISHED

SUBMIT_ATTEMPTS = 3


class APIError(Exception):
    """An error answer of the API: ``status``, ``code``, ``message``, ``details``."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.code = error.get("code")
        self.message = error.get("message")
        self.details = error.get("details", {})


class IntegrityError(Exception):
    """A downloaded file does not have the SHA-256 the server announced."""


class TensorFleetClient:
    """Calls ``/api/v1`` of one TensorFleet deployment with one API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, f"{self.base_url}/api/v1{path}", **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:200]}
            raise APIError(response.status_code, error)
        return response

    def _create(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """POST with an Idempotency-Key, retried with the same key if the connection drops."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                return self._call("POST", path, headers=headers, **kwargs).json()
            except requests.ConnectionError:
                if attempt == SUBMIT_ATTEMPTS:
                    raise
                time.sleep(0.5 * attempt)
                for handle in kwargs.get("files", {}).values():
                    handle[1].seek(0)
        raise AssertionError("unreachable")

    def submit_job(self, dataset: str, algorithm: str, **options: Any) -> dict[str, Any]:
        """Queue a training job; ``options`` are the other body fields (hyperparameters, …)."""
        return self._create("/jobs", json={"dataset": dataset, "algorithm": algorithm, **options})

    def get_job(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        """A job; with ``wait`` the server holds the answer until it ends (at most ``wait`` s)."""
        params = {"wait": wait} if wait else None
        return self._call(
            "GET", f"/jobs/{job_id}", params=params, timeout=self.timeout + wait
        ).json()

    def wait(self, job_id: str, timeout: float = 600, poll: float = 20) -> dict[str, Any]:
        """Block until the job ends (long polling, ``poll`` s per request) or ``timeout``."""
        deadline = time.monotonic() + timeout
        job = self.get_job(job_id)
        while job["status"] not in FINISHED and (left := deadline - time.monotonic()) > 0:
            job = self.get_job(job_id, wait=min(poll, left))
        return job

    def list_jobs(self, **filters: Any) -> dict[str, Any]:
        """A page of jobs (``status``, ``model_name``, ``page``, ``limit`` …)."""
        return self._call("GET", "/jobs", params=filters).json()

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask a job to stop."""
        return self._call("POST", f"/jobs/{job_id}/cancel").json()

    def upload_dataset(
        self, path: str | Path, name: str, target: str, description: str = ""
    ) -> dict[str, Any]:
        """Upload a CSV as the next version of dataset ``name``."""
        with open(path, "rb") as handle:
            files = {"file": (Path(path).name, handle, "text/csv")}
            data = {"name": name, "target": target, "description": description}
            return self._create("/datasets", files=files, data=data)

    def list_models(self, **filters: Any) -> dict[str, Any]:
        """A page of models (``name``, ``algorithm``, ``dataset``, ``sort`` …)."""
        return self._call("GET", "/models", params=filters).json()

    def download_model(self, model_id: str, path: str | Path) -> Path:
        """Stream a model's joblib file to ``path``, checking its SHA-256.

        Load joblib files only from a server you trust: unpickling runs code.
        """
        target = Path(path)
        response = self._call("GET", f"/models/{model_id}/download", stream=True)
        expected = response.headers.get("X-Checksum-SHA256", "")
        digest = hashlib.sha256()
        with response, target.open("wb") as out:
            for chunk in response.iter_content(chunk_size=1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
        if not expected or digest.hexdigest() != expected:
            target.unlink(missing_ok=True)
            raise IntegrityError(
                f"Model {model_id}: the file's SHA-256 {digest.hexdigest()} is not the"
                f" announced {expected or '(none)'}; it was removed."
            )
        return target
