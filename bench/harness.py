"""Where the benchmark runs, and the HTTP/job helpers every figure uses.

Local mode (default): Redis and nx-27017 are started once (``LocalStack`` with
``services=("redis", "mongo")``) and each phase gets its own *app tier* (API +
N workers, extra env) on top of them, started and stopped by ``Harness.tier``.
External mode: ``REDIS_URL`` + ``MONGODB_URL`` replace the infra; with ``API_URL``
too, no process is started and worker counts are set by cancelling/adding the
workers' consumers of the training queue (meant for a dedicated test stack: the
submit benchmark purges that queue).

Every request to the API sends an admin key (``Authorization: Bearer``): the local stack's
(``TENSORFLEET_ADMIN_KEY`` if set, else generated and kept in the data directory, where the
artifact signing key and the Redis password are kept too), or ``TENSORFLEET_ADMIN_KEY``
for an external API.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
import requests
from celery import Celery

from app.config import Settings
from app.statuses import FINISHED
from app.tasks.celery_app import TensorFleetCelery, create_celery
from localstack import LocalStack, StackConfig, free_ports
from localstack.config import PROJECT_DIR

DEFAULT_COMPRESSION = Settings.model_fields["model_compression"].default
EXPORT_POLL_SECONDS = 0.1  # GET /models/<id> until its ONNX copy is no longer pending
# The API's per-key rate limits stay on (their cost is measured) but far above any phase's
# load, which would otherwise be cut at the default 120 writes a minute.
TIER_ENV = {
    "RATE_LIMIT_WRITES": "10000000/minute",
    "RATE_LIMIT_READS": "10000000/minute",
    "RATE_LIMIT_PREDICTIONS": "10000000/minute",
}


class BenchError(RuntimeError):
    """A benchmark could not measure what it should (a job failed, a service is missing)."""


@dataclass
class Tier:
    """One running API + workers, and the Redis/MongoDB they use."""

    api_url: str
    redis_url: str
    mongodb_url: str
    mongodb_db: str
    workers: int
    env: Mapping[str, str] = field(default_factory=dict)
    stack: LocalStack | None = None  # None: an external API we did not start
    jobs_run: int = 0  # jobs the benchmark ran on this tier (for "after 100 jobs")
    admin_key: str | None = None  # sent with every request to the API

    @property
    def headers(self) -> dict[str, str]:
        """What authenticates a request to this tier's API."""
        return {"Authorization": f"Bearer {self.admin_key}"} if self.admin_key else {}

    @property
    def settings(self) -> Settings:
        """Settings of the bench process pointing at this tier's Redis and MongoDB."""
        return Settings(
            redis_url=self.redis_url, mongodb_url=self.mongodb_url, mongodb_db=self.mongodb_db
        )

    @property
    def model_compression(self) -> int:
        """The joblib compression level the workers use."""
        value = self.env.get("MODEL_COMPRESSION") or os.environ.get("MODEL_COMPRESSION")
        return int(value) if value else DEFAULT_COMPRESSION

    def worker_pids(self) -> list[int]:
        """PIDs of the celery worker main processes (local tiers only)."""
        if self.stack is None:
            return []
        return [c.pid for name, c in self.stack.children.items() if name.startswith("worker")]

    def api_pid(self) -> int | None:
        """PID of the gunicorn master (local tiers only)."""
        if self.stack is None or "api" not in self.stack.children:
            return None
        return self.stack.children["api"].pid


class Harness:
    """Starts (or finds) the infrastructure once and app tiers on demand."""

    def __init__(self, data_dir: Path | None = None, keep_data: bool = False) -> None:
        self.env = os.environ
        self.external_api = self.env.get("API_URL")
        self.external_infra = bool(self.env.get("REDIS_URL") and self.env.get("MONGODB_URL"))
        if self.external_api and not self.external_infra:
            raise BenchError("API_URL needs REDIS_URL and MONGODB_URL too (for the baselines)")
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="tensorfleet-bench-"))
        self.keep_data = keep_data
        self.infra: LocalStack | None = None
        self.mongodb_db = (
            self.env.get("MONGODB_DB", "tensorfleet")
            if self.external_infra
            else ("tensorfleet_bench")
        )
        self._mongo: pymongo.MongoClient | None = None
        self.notes: dict[str, Any] = {}  # measurements one phase hands to a later one
        # Given secrets win; unset ones are generated once and kept in data_dir/secrets/,
        # shared by the infrastructure and every tier.
        self.secrets = {
            "admin_key": self.env.get("TENSORFLEET_ADMIN_KEY") or None,
            "artifact_signing_key": self.env.get("ARTIFACT_SIGNING_KEY") or None,
        }

    # -- infrastructure ------------------------------------------------------------------
    def start(self) -> Harness:
        """Start Redis and MongoDB unless external ones are configured."""
        if not self.external_infra:
            redis_port, mongo_port = free_ports(2)
            config = StackConfig(
                data_dir=self.data_dir,
                redis_port=redis_port,
                mongo_port=mongo_port,
                services=("redis", "mongo"),
                redis_appendonly=False,
                mongodb_db=self.mongodb_db,
                startup_timeout=60.0,
                **self.secrets,
            )
            self.infra = LocalStack(config).start()
        return self

    def close(self) -> None:
        """Stop what was started; remove the data directory unless asked to keep it."""
        if self._mongo is not None:
            self._mongo.close()
        if self.infra is not None:
            self.infra.stop()
        if self.owns_data_dir and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def redis_url(self) -> str:
        """The Redis of every tier (the local one's URL carries its password)."""
        return self.env["REDIS_URL"] if self.external_infra else self.infra.redis_url

    @property
    def mongodb_url(self) -> str:
        """The MongoDB of every tier."""
        return self.env["MONGODB_URL"] if self.external_infra else self.infra.mongodb_url

    @property
    def log_dir(self) -> Path:
        """Where service logs (ours and the stack's) go."""
        return self.data_dir / "logs"

    def mongo(self) -> pymongo.database.Database:
        """The bench process's own MongoDB handle (the baselines read with it)."""
        if self._mongo is None:
            self._mongo = pymongo.MongoClient(self.mongodb_url, tz_aware=True)
        return self._mongo[self.mongodb_db]

    # -- app tiers -----------------------------------------------------------------------
    @contextmanager
    def tier(
        self, workers: int, env: Mapping[str, str] | None = None, beat: bool = False
    ) -> Iterator[Tier]:
        """An API with ``workers`` training workers and ``env`` (over :data:`TIER_ENV`) for
        them, for one phase."""
        env = {**TIER_ENV, **(env or {})}
        if self.external_api:
            tier = Tier(
                self.external_api.rstrip("/"),
                self.redis_url,
                self.mongodb_url,
                self.mongodb_db,
                workers,
                env,
                admin_key=self.secrets["admin_key"],
            )
            celery = create_celery(tier.settings)
            try:
                set_consuming_workers(celery, workers)
                yield tier
            finally:
                set_consuming_workers(celery, None)
            return
        metrics = free_ports(max(workers, 1), consecutive=True)
        while set(ports := free_ports(2)) & set(metrics):
            pass
        config = StackConfig(
            data_dir=self.data_dir,
            api_port=ports[0],
            flower_port=ports[1],
            metrics_port=metrics[0],
            workers=workers,
            redis_url=self.redis_url,
            mongodb_url=self.mongodb_url,
            mongodb_db=self.mongodb_db,
            services=("api", "workers", "beat") if beat else ("api", "workers"),
            env=env,
            startup_timeout=90.0,
            **self.secrets,
        )
        with LocalStack(config) as stack:
            yield Tier(
                stack.api_url,
                self.redis_url,
                self.mongodb_url,
                self.mongodb_db,
                workers,
                env,
                stack,
                admin_key=stack.admin_key,
            )


def worker_hosts(celery: Celery) -> list[str]:
    """Hostnames of the workers that answer a ping (waits the full 2 s for replies)."""
    return sorted(host for reply in celery.control.ping(timeout=2.0) or [] for host in reply)


def set_consuming_workers(
    celery: TensorFleetCelery, count: int | None, hosts: list[str] | None = None
) -> None:
    """Let the first ``count`` of ``hosts`` consume the training queue (None: all of them)."""
    hosts = worker_hosts(celery) if hosts is None else hosts
    queue = celery.settings.training_queue
    if count is not None and len(hosts) < count:
        raise BenchError(f"{count} workers needed, {len(hosts)} answer")
    for i, host in enumerate(hosts):
        if count is None or i < count:
            celery.control.add_consumer(queue, destination=[host], reply=True)
        else:
            celery.control.cancel_consumer(queue, destination=[host], reply=True)


# -- the API as a client sees it ---------------------------------------------------------
class Api:
    """A keep-alive HTTP client of one tier's API (with its admin key), with job helpers."""

    def __init__(self, tier: Tier) -> None:
        self.tier = tier
        self.base = tier.api_url + "/api/v1"
        self.session = requests.Session()
        self.session.headers.update(tier.headers)

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, body: Mapping[str, Any]) -> str:
        """POST a job; its id."""
        response = self.session.post(f"{self.base}/jobs", json=dict(body), timeout=30)
        if response.status_code != 202:
            raise BenchError(f"submit answered {response.status_code}: {response.text[:300]}")
        self.tier.jobs_run += 1
        return response.json()["job_id"]

    def wait(self, job_id: str, timeout: float) -> dict[str, Any]:
        """Long-poll ``GET /jobs/<id>?wait=`` until the job ends; BenchError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            response = self.session.get(
                f"{self.base}/jobs/{job_id}",
                params={"wait": round(max(0.0, min(left, 60.0)), 3)},
                timeout=max(left, 0) + 30,
            )
            response.raise_for_status()
            job = response.json()
            if job["status"] in FINISHED:
                return job
            if left <= 0:
                raise BenchError(f"job {job_id} still {job['status']} after {timeout:g}s")

    def run_job(self, body: Mapping[str, Any], timeout: float) -> tuple[float, dict[str, Any]]:
        """Submit and wait for success; (seconds from submit to the end seen, the job)."""
        start = time.perf_counter()
        job = self.wait(self.submit(body), timeout)
        elapsed = time.perf_counter() - start
        if job["status"] != "succeeded":
            raise BenchError(f"job {job['job_id']} {job['status']}: {job.get('error')}")
        return elapsed, job

    def model(self, model_id: str) -> dict[str, Any]:
        """A model's metadata."""
        response = self.session.get(f"{self.base}/models/{model_id}", timeout=30)
        response.raise_for_status()
        return response.json()

    def wait_for_export(self, model_id: str, timeout: float) -> dict[str, Any]:
        """The model once its ONNX copy is no longer pending. A worker makes that copy right
        after the training job ended, busy on a core for seconds with a large model: a
        figure times nothing before it ended, so the export overlaps neither side."""
        deadline = time.monotonic() + timeout
        while True:
            model = self.model(model_id)
            if ((model.get("formats") or {}).get("onnx") or {}).get("status") != "pending":
                return model
            if time.monotonic() > deadline:
                raise BenchError(f"model {model_id}: ONNX copy still pending after {timeout:g}s")
            time.sleep(EXPORT_POLL_SECONDS)

    def ensure_dataset(self, name: str, csv: bytes, target: str) -> dict[str, Any]:
        """The dataset ``name`` holding exactly ``csv`` (uploaded unless its latest version is)."""
        sha = hashlib.sha256(csv).hexdigest()
        current = self.session.get(f"{self.base}/datasets/{name}", timeout=30)
        if current.status_code == 200 and current.json().get("sha256") == sha:
            return current.json()
        response = self.session.post(
            f"{self.base}/datasets",
            data={"name": name, "target": target},
            files={"file": (f"{name}.csv", csv, "text/csv")},
            timeout=120,
        )
        if response.status_code != 201:
            raise BenchError(f"upload of {name} answered {response.status_code}: {response.text}")
        return response.json()

    def warm_workers(self, dataset: str, timeout: float = 60.0) -> None:
        """Make every worker of the tier load ``dataset`` into its frame cache (cheap jobs)."""
        body = {
            "dataset": dataset,
            "algorithm": "decision_tree",
            "hyperparameters": {"max_depth": 1},
            "model_name": "bench_warmup",
        }
        seen: set[str] = set()
        for _ in range(4):  # bounded: concurrent pairs normally land on distinct workers
            ids = [self.submit(body) for _ in range(max(self.tier.workers, 1))]
            seen |= {self.wait(job_id, timeout).get("worker") or "" for job_id in ids}
            if len(seen) >= self.tier.workers:
                return


def synthetic_csv(
    rows: int, features: int, *, classes: int = 2, flip_y: float = 0.01, seed: int = 0
) -> bytes:
    """A deterministic classification CSV (``f0..fN`` and ``label``)."""
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=max(2, features // 2),
        n_classes=classes,
        flip_y=flip_y,
        random_state=seed,
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame["label"] = [f"c{v}" for v in y]
    out = io.StringIO()
    frame.to_csv(out, index=False, float_format="%.6g")
    return out.getvalue().encode()


def project_dir() -> Path:
    """The repository root (cwd of every child)."""
    return PROJECT_DIR


def bin_path(name: str) -> str:
    """An executable of the venv that runs the benchmark."""
    import sys

    return str(Path(sys.executable).parent / name)
