"""The serving figures: online predict against MLflow's scoring server, ONNX, batch, cold load.

One model serves them all: ``random_forest`` (``serve_trees`` = 100 trees, random_state 42)
on the built-in ``digits`` dataset (64 integer pixel features, 10 classes), trained by a
worker of the tier, so ONNX matters (a forest's per-tree Python overhead is what ONNX
Runtime removes). Every request is one row, the same bytes to both servers:
``{"dataframe_split": {"columns": [64 names], "data": [[64 ints]]}}``, over a keep-alive
HTTP/1.1 connection (``http.client``) on loopback, sent from this process.

- ``predict_p50_vs_mlflow``: per round, ``serve_requests`` sequential requests to
  ``POST /api/v1/models/<id>/predict`` (default engine: ONNX when the model's copy passed
  parity), then as many to MLflow's ``/invocations`` serving the same pipeline (the model's
  joblib file, downloaded, saved with ``mlflow.sklearn.save_model`` and a signature); p50
  ratio, p99 of both in ``details``. The order of the two alternates between rounds.
- ``predict_throughput_vs_mlflow``: ``serve_load_requests`` requests from ``serve_clients``
  threads, each on its own connection (one untimed request each first, the connections
  spread evenly over the server's processes), to each server.
- ``predict_onnx_p50_ms``: p50 with ``?engine=onnx``; baseline ``?engine=sklearn``.
- ``model_cold_load_ms``: a freshly trained model (same algorithm and data) per round: on
  one connection, a request to the warm model (a live connection to one gunicorn process),
  then the fresh model's first predict, then ``cold_warm_requests`` more; cold load = the
  first minus the median of the rest, per engine (the default engine's is the figure).
  Baseline: the same file (downloaded) deserialized in this process.
- ``batch_predict_efficiency``: a ``kind: predict`` job over ``batch_rows`` digits-like rows
  (rows of digits resampled with ±1 pixel noise, deterministic); the fleet's rows/s is
  ``rows / (finished_at - started_at)`` of the job, once every worker ran one first (the
  dataset parsed in its frame cache); baseline: ``pipeline.predict`` of the same pipeline on
  the same rows, parsed beforehand, in this process, in the job's chunks.
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import os
import shutil
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from app.ml.tabular import read_csv
from app.ml.training import load_model
from bench.baselines import (
    MlflowScoringServer,
    child_pids,
    in_process_load,
    save_mlflow_model,
    tree_cpu_seconds,
)
from bench.harness import Api, BenchError, Harness, Tier, project_dir
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes
from localstack.process import group_members

DATASET, TARGET = "digits", "digit"
MODEL_NAME, COLD_MODEL_NAME = "bench_serve", "bench_cold"
BATCH_DATASET = "bench_batch_digits"
MAX_COLD_MODEL_BYTES = 10_000_000
JOB_TIMEOUT = 120.0
REQUEST_TIMEOUT = 30.0
SPREAD_TRIES = 20  # reconnects per connection to even out the connections per process
SETTLE_SECONDS, SETTLE_WINDOW, SETTLE_CPU = 5.0, 0.2, 0.05  # idle: < 5 % of a core per window
MIN_LATENCY_REQUESTS = 100  # below this, p99 is the maximum: said in the details


class Connection:
    """One keep-alive HTTP/1.1 connection (``http.client``); a dropped one is reopened once."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.headers = {"Content-Type": "application/json", **headers}
        self.connects = 0
        self._conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> bytes:
        """The 200 answer's body; BenchError for any other status."""
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, REQUEST_TIMEOUT)
                self.connects += 1
            try:
                self._conn.request("POST", path, body, self.headers)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                self.close()  # an idle keep-alive connection the server closed
                if attempt:
                    raise
                continue
            if response.will_close:
                self.close()
            if response.status != 200:
                raise BenchError(f"POST {path} answered {response.status}: {data[:300]!r}")
            return data
        raise AssertionError("unreachable")

    @property
    def local_port(self) -> int:
        """The client end's port (0 when not connected)."""
        sock = self._conn.sock if self._conn is not None else None
        return sock.getsockname()[1] if sock is not None else 0

    def timed(self, path: str, body: bytes) -> float:
        """Seconds of one request."""
        start = time.perf_counter()
        self.post(path, body)
        return time.perf_counter() - start

    def close(self) -> None:
        """Close the socket."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def latencies(conn: Connection, path: str, body: bytes, count: int) -> list[float]:
    """Seconds of ``count`` sequential requests, after one untimed (a live connection)."""
    conn.post(path, body)
    return [conn.timed(path, body) for _ in range(count)]


@dataclass(frozen=True)
class Target:
    """A server to load: base URL, predict path and, for a local server, its process group
    and worker process count (to spread the connections evenly over the processes)."""

    name: str
    url: str
    path: str
    group: int | None = None
    processes: int = 1


def socket_owner(server_port: int, client_port: int, group: int) -> int | None:
    """The process of ``group`` holding the server end of a loopback TCP connection."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            inode = fields[9]
            break
    if inode is None:
        return None
    for pid in group_members(group):
        with suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def open_connections(
    target: Target, headers: dict[str, str], body: bytes, count: int
) -> tuple[list[Connection], list[int]]:
    """``count`` connections that have each answered one request, at most
    ceil(count / processes) per server process (reconnecting, up to ``SPREAD_TRIES`` times
    each), as a balancer in front of the processes would spread them; and the number each
    process got (the kernel hands a new connection to any process waiting in accept)."""
    per = -(-count // max(1, target.processes))
    port = urlsplit(target.url).port or 80
    conns: list[Connection] = []
    spread: Counter[int | None] = Counter()
    for _ in range(count):
        for attempt in range(SPREAD_TRIES):
            conn = Connection(target.url, headers)
            conn.post(target.path, body)
            owner = socket_owner(port, conn.local_port, target.group) if target.group else None
            if owner is None or spread[owner] < per or attempt == SPREAD_TRIES - 1:
                break
            conn.close()
        spread[owner] += 1
        conns.append(conn)
    return conns, sorted(spread.values(), reverse=True)


def load(
    target: Target, headers: dict[str, str], body: bytes, clients: int, total: int
) -> tuple[float, list[float], list[int]]:
    """(requests/s, latencies, connections per server process) of ``total`` requests from
    ``clients`` threads, each on its own connection (see ``open_connections``)."""
    conns, spread = open_connections(target, headers, body, clients)
    tickets = itertools.count()  # next() on it is atomic under the GIL
    times: list[list[float]] = [[] for _ in conns]
    errors: list[BaseException] = []
    go = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        go.wait()
        try:
            while next(tickets) < total:
                times[i].append(conns[i].timed(target.path, body))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    go.wait()
    start = time.perf_counter()
    deadline = start + REQUEST_TIMEOUT + total  # generous: at least 1 request/s
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    if errors or any(t.is_alive() for t in threads):
        raise BenchError(f"load on {target.url} failed: {errors[:1] or 'a client hung'}")
    done = [t for ts in times for t in ts]
    if len(done) != total:
        raise BenchError(f"{len(done)} of {total} requests answered")
    return total / elapsed, done, spread


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(xs)
    return ordered[max(0, min(len(ordered) - 1, int(np.ceil(q / 100 * len(ordered))) - 1))]


def ms(seconds: float) -> float:
    """Milliseconds, rounded for details."""
    return round(seconds * 1000, 3)


def batch_csv(rows: int, seed: int = 0) -> bytes:
    """``rows`` digits-like rows: digits rows drawn with replacement, each pixel moved by
    -1, 0 or +1 (clipped to 0..16), with their labels; deterministic."""
    frame = read_csv((project_dir() / "datasets" / "digits.csv").read_bytes())
    features = [c for c in frame.columns if c != TARGET]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(frame), rows)
    pixels = frame[features].to_numpy()[pick] + rng.integers(-1, 2, (rows, len(features)))
    table = np.column_stack([np.clip(pixels, 0, 16), frame[TARGET].to_numpy()[pick]])
    text = np.array([str(i) for i in range(17)], dtype=object)[table]  # every value is 0..16
    lines = [",".join([*features, TARGET]), *map(",".join, text.tolist())]
    return ("\n".join(lines) + "\n").encode()


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


class Phase:
    """The serving figures of one tier, with what they share: the model, its pipeline, the
    one-row payload and MLflow's server (started on first use, stopped on exit)."""

    def __init__(self, h: Harness, sizes: Sizes, progress: Progress) -> None:
        self.h, self.sizes, self.progress = h, sizes, progress
        self._exit = ExitStack()
        self._setup: dict[str, Any] | None = None
        self._setup_error: Exception | None = None
        self._mlflow: MlflowScoringServer | None = None
        self._mlflow_error: Exception | None = None
        self.settled = 0.0  # seconds spent waiting for idle servers (settle)

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def steps(self) -> list[tuple[str, Callable[[Tier], Figure]]]:
        """(figure name, measure on a tier), in the order they run."""
        return [
            ("predict_p50_vs_mlflow", self.predict_p50_vs_mlflow),
            ("predict_throughput_vs_mlflow", self.predict_throughput_vs_mlflow),
            ("predict_onnx_p50_ms", self.predict_onnx_p50_ms),
            ("model_cold_load_ms", self.model_cold_load_ms),
            ("batch_predict_efficiency", self.batch_predict_efficiency),
        ]

    # -- what the figures share ------------------------------------------------------------
    def _train(self, api: Api, name: str) -> dict[str, Any]:
        body = {
            "dataset": DATASET,
            "algorithm": "random_forest",
            "hyperparameters": {"n_estimators": self.sizes.serve_trees},
            "model_name": name,
        }
        _, job = api.run_job(body, JOB_TIMEOUT)
        return api.wait_for_export(job["result"]["model_id"], JOB_TIMEOUT)

    def setup(self, tier: Tier) -> dict[str, Any]:
        """Train the model, download its pipeline, build the payload (once; a failure is
        remembered and raised again for every figure)."""
        if self._setup is not None:
            return self._setup
        if self._setup_error is not None:
            raise BenchError(f"serving setup failed: {self._setup_error}")
        try:
            with Api(tier) as api:
                model = self._train(api, MODEL_NAME)
                raw = self.download(api, model, "joblib")
            pipeline = load_model(io.BytesIO(raw))
            frame = read_csv((project_dir() / "datasets" / "digits.csv").read_bytes())
            features = list(model["features"])
            row = frame[features].iloc[0].tolist()
            body = {"dataframe_split": {"columns": features, "data": [row]}}
            one = frame[features].iloc[:1]
            in_process = [self._time(lambda: pipeline.predict(one)) for _ in range(30)]
            self._setup = {
                "model": model,
                "pipeline": pipeline,
                "frame": frame,
                "features": features,
                "body": json.dumps(body).encode(),
                "path": f"/api/v1/models/{model['model_id']}/predict",
                "in_process_predict_p50_ms": ms(statistics.median(in_process)),
            }
        except Exception as exc:
            self._setup_error = exc
            raise
        return self._setup

    @staticmethod
    def _time(action: Callable[[], Any]) -> float:
        start = time.perf_counter()
        action()
        return time.perf_counter() - start

    @staticmethod
    def download(api: Api, model: dict[str, Any], fmt: str) -> bytes:
        """A model's file, ``joblib`` or ``onnx`` (joblib checked against its sha256)."""
        params = {"format": fmt} if fmt != "joblib" else None
        url = f"{api.base}/models/{model['model_id']}/download"
        response = api.session.get(url, params=params, timeout=120)
        if response.status_code != 200:
            raise BenchError(f"download ({fmt}) answered {response.status_code}")
        if fmt == "joblib":
            import hashlib

            if hashlib.sha256(response.content).hexdigest() != model["sha256"]:
                raise BenchError("downloaded model does not match its sha256")
        return response.content

    def mlflow(self, tier: Tier) -> MlflowScoringServer:
        """MLflow's scoring server of the same pipeline, with as many workers as the API."""
        if self._mlflow is not None:
            return self._mlflow
        if self._mlflow_error is not None:
            raise BenchError(f"MLflow scoring server: {self._mlflow_error}")
        try:
            setup = self.setup(tier)
            workdir = self.h.data_dir / "mlflow-serving"
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            sample = setup["frame"][setup["features"]].head(100)
            save_mlflow_model(setup["pipeline"], workdir / "model", sample)
            server = MlflowScoringServer(workdir / "model", api_workers(tier), self.h.log_dir)
            self._mlflow = self._exit.enter_context(server)
        except Exception as exc:
            self._mlflow_error = exc
            raise
        return self._mlflow

    def settle(self, tier: Tier) -> float:
        """Wait (at most ``SETTLE_SECONDS``) until the servers, Redis and MongoDB are idle, so
        work deferred by one side's load (the API's prediction log, written off-thread) does
        not run during the other side's; seconds waited (also summed in ``self.settled``)."""
        pids = [tier.api_pid(), *tier.worker_pids()]
        if self.h.infra is not None:
            pids += [child.pid for child in self.h.infra.children.values()]
        if self._mlflow is not None:
            pids.append(self._mlflow.pid)
        local = [pid for pid in pids if pid]
        start = time.perf_counter()
        while local and time.perf_counter() - start < SETTLE_SECONDS:
            before = tree_cpu_seconds(local)
            time.sleep(SETTLE_WINDOW)
            if tree_cpu_seconds(local) - before <= SETTLE_WINDOW * SETTLE_CPU:
                break
        waited = time.perf_counter() - start
        self.settled += waited
        return waited

    def _mlflow_skip(self, fig: Figure) -> bool:
        """Mark ``fig`` skipped (smoke mode) or failed (no mlflow); True if so."""
        if not self.sizes.mlflow_serving:
            fig.skipped = "mlflow_serving off (smoke mode)"
            return True
        try:
            import mlflow.pyfunc.scoring_server  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError as exc:
            fig.error = f"{exc}: pip install -r bench/requirements.txt"
            return True
        return False

    # -- figures -----------------------------------------------------------------------------
    def predict_p50_vs_mlflow(self, tier: Tier) -> Figure:
        """Per round: p50 of sequential one-row predicts, TensorFleet and MLflow."""
        fig = Figure("predict_p50_vs_mlflow", "ms", "<=", 0.5)
        settled = self.settled
        if self._mlflow_skip(fig):
            return fig
        setup, server = self.setup(tier), self.mlflow(tier)
        ours = Connection(tier.api_url, tier.headers)
        theirs = Connection(server.url, tier.headers)  # MLflow ignores the key
        engine = json.loads(ours.post(setup["path"], setup["body"]))["engine"]
        p99: dict[str, list[float]] = {"tensorfleet": [], "mlflow": []}
        n = self.sizes.serve_requests
        for i in range(self.sizes.rounds):
            sides = [("tensorfleet", ours, setup["path"]), ("mlflow", theirs, "/invocations")]
            measured = {}
            for side, conn, path in sides if i % 2 == 0 else sides[::-1]:
                self.settle(tier)
                measured[side] = latencies(conn, path, setup["body"], n)
                p99[side].append(ms(percentile(measured[side], 99)))
            fig.add(
                statistics.median(measured["tensorfleet"]) * 1000,
                statistics.median(measured["mlflow"]) * 1000,
            )
            self.progress.step()
        fig.details = {
            "p99_ms": {side: statistics.median(v) for side, v in p99.items()},
            "p99_ms_per_round": p99,
            "requests_per_round": n,
            "engine": engine,
            "model": _model_facts(setup["model"]),
            "workers": _workers(tier),
            "in_process_predict_p50_ms": setup["in_process_predict_p50_ms"],
            "connects": {"tensorfleet": ours.connects, "mlflow": theirs.connects},
            "note": "sequential one-row requests on one keep-alive connection each, from this"
            " process; the API's default engine vs MLflow's pyfunc (scikit-learn)",
            "settle_wait_s": round(self.settled - settled, 2),
        }
        if n < MIN_LATENCY_REQUESTS:
            fig.details["p99_is"] = "close to the maximum (few requests)"
        ours.close()
        theirs.close()
        return fig

    def predict_throughput_vs_mlflow(self, tier: Tier) -> Figure:
        """Per round: requests/s of a bounded load, TensorFleet and MLflow."""
        fig = Figure("predict_throughput_vs_mlflow", "req/s", ">=", 2.0)
        settled = self.settled
        if self._mlflow_skip(fig):
            return fig
        setup, server = self.setup(tier), self.mlflow(tier)
        clients, total = self.sizes.serve_clients, self.sizes.serve_load_requests
        processes = api_workers(tier)
        targets = [
            Target("tensorfleet", tier.api_url, setup["path"], tier.api_pid(), processes),
            Target("mlflow", server.url, "/invocations", server.pid, server.workers),
        ]
        for target in targets:  # warm-up: both servers' processes, imports, caches
            load(target, tier.headers, setup["body"], clients, clients * 2)
        under_load: dict[str, list[dict[str, Any]]] = {"tensorfleet": [], "mlflow": []}
        for i in range(self.sizes.rounds):
            rates = {}
            for target in targets if i % 2 == 0 else targets[::-1]:
                self.settle(tier)
                rate, times, spread = load(target, tier.headers, setup["body"], clients, total)
                rates[target.name] = rate
                under_load[target.name].append(
                    {
                        "p50_ms": ms(statistics.median(times)),
                        "p99_ms": ms(percentile(times, 99)),
                        "connections_per_process": spread,
                    }
                )
            fig.add(rates["tensorfleet"], rates["mlflow"])
            self.progress.step()
        fig.details = {
            "clients": clients,
            "requests_per_round": total,
            "latency_under_load": under_load,
            "workers": _workers(tier),
            "note": f"{total} one-row requests per server per round from {clients} threads of"
            " this process, which shares the cores with both servers; each thread on its own"
            " keep-alive connection, spread evenly over the server's processes",
            "settle_wait_s": round(self.settled - settled, 2),
        }
        return fig

    def predict_onnx_p50_ms(self, tier: Tier) -> Figure:
        """Per round: p50 with ``?engine=onnx``, then with ``?engine=sklearn`` (alternating)."""
        fig = Figure("predict_onnx_p50_ms", "ms", "<=", 2.0, goal_on="value")
        settled = self.settled
        setup = self.setup(tier)
        onnx = (setup["model"].get("formats") or {}).get("onnx")
        if not onnx:
            raise BenchError("the model has no formats.onnx (an API without ONNX export?)")
        if onnx.get("status") != "ok":
            raise BenchError(f"no ONNX copy: {onnx.get('status')}: {onnx.get('reason')}")
        conn = Connection(tier.api_url, tier.headers)
        engines = ["onnx", "sklearn"]
        for engine in engines:
            answer = json.loads(conn.post(f"{setup['path']}?engine={engine}", setup["body"]))
            if answer.get("engine") != engine:
                raise BenchError(f"?engine={engine} answered engine {answer.get('engine')}")
        p99: dict[str, list[float]] = {e: [] for e in engines}
        n = self.sizes.serve_requests
        for i in range(self.sizes.rounds):
            p50 = {}
            for engine in engines if i % 2 == 0 else engines[::-1]:
                self.settle(tier)
                times = latencies(conn, f"{setup['path']}?engine={engine}", setup["body"], n)
                p50[engine] = statistics.median(times) * 1000
                p99[engine].append(ms(percentile(times, 99)))
            fig.add(p50["onnx"], p50["sklearn"])
            self.progress.step()
        conn.close()
        fig.details = {
            "p99_ms": {e: statistics.median(v) for e, v in p99.items()},
            "requests_per_round": n,
            "onnx_size_bytes": onnx.get("size_bytes"),
            "baseline_is": "the same requests with ?engine=sklearn",
            "in_process_sklearn_predict_p50_ms": setup["in_process_predict_p50_ms"],
            "settle_wait_s": round(self.settled - settled, 2),
        }
        return fig

    def model_cold_load_ms(self, tier: Tier) -> Figure:
        """Per round: a fresh model's first predict minus its warm median, per engine."""
        fig = Figure("model_cold_load_ms", "ms", "<=", 300.0, goal_on="value")
        setup = self.setup(tier)
        by_engine: dict[str, list[dict[str, float]]] = {}
        sizes: dict[str, int] = {}
        default = None
        with Api(tier) as api:
            for _ in range(self.sizes.rounds):
                fresh = self._train(api, COLD_MODEL_NAME)
                size = int(fresh["size_bytes"])
                if size > MAX_COLD_MODEL_BYTES:
                    raise BenchError(f"model is {size} bytes, > {MAX_COLD_MODEL_BYTES}")
                onnx_ok = ((fresh.get("formats") or {}).get("onnx") or {}).get("status") == "ok"
                conn = Connection(tier.api_url, tier.headers)
                queries = ["", "?engine=sklearn"] if onnx_ok else [""]
                first: tuple[float, float] | None = None
                for query in queries:
                    path = f"/api/v1/models/{fresh['model_id']}/predict{query}"
                    self.settle(tier)  # the training job's last writes
                    conn.post(f"{setup['path']}{query}", setup["body"])  # live, warm connection
                    start = time.perf_counter()
                    answer = json.loads(conn.post(path, setup["body"]))
                    cold = time.perf_counter() - start
                    warm = statistics.median(
                        latencies(conn, path, setup["body"], self.sizes.cold_warm_requests)
                    )
                    engine = answer["engine"]
                    fmt = "onnx" if engine == "onnx" else "joblib"
                    raw = self.download(api, fresh, fmt)
                    local = in_process_load(raw, fmt)
                    sizes[fmt] = len(raw)
                    by_engine.setdefault(engine, []).append(
                        {
                            "cold_ms": ms(cold - warm),
                            "first_ms": ms(cold),
                            "warm_ms": ms(warm),
                            "in_process_load_ms": ms(local),
                        }
                    )
                    if first is None:
                        default, first = engine, ((cold - warm) * 1000, local * 1000)
                conn.close()
                assert first is not None
                fig.add(*first)
                self.progress.step()
        fig.details = {
            "engine": default,
            "by_engine": by_engine,
            "file_bytes": sizes,
            "warm_requests": self.sizes.cold_warm_requests,
            "measure": "a fresh model per round; on one keep-alive connection (one gunicorn"
            " process): a warm request, then the fresh model's first predict minus the median"
            " of the next ones; figure: the default engine's",
            "baseline_is": "the same file deserialized in this process (joblib load_model, or"
            " an ONNX Runtime session with one thread)",
        }
        return fig

    def batch_predict_efficiency(self, tier: Tier) -> Figure:
        """Per round: a batch prediction job's rows/s over in-process ``pipeline.predict``."""
        fig = Figure("batch_predict_efficiency", "rows/s", ">=", 0.7)
        setup = self.setup(tier)
        rows, pipeline = self.sizes.batch_rows, setup["pipeline"]
        chunk = int(
            tier.env.get("BATCH_PREDICT_CHUNK_ROWS")
            or getattr(tier.settings, "batch_predict_chunk_rows", 50_000)
        )
        csv = batch_csv(rows)
        frame = read_csv(csv)[setup["features"]]

        def in_process() -> None:  # in the job's chunks: faster here than one call (details)
            for start in range(0, rows, chunk):
                pipeline.predict(frame.iloc[start : start + chunk])

        walls, results = [], []
        with Api(tier) as api:
            start = time.perf_counter()
            dataset = api.ensure_dataset(BATCH_DATASET, csv, TARGET)
            upload_s = time.perf_counter() - start
            body = {
                "kind": "predict",
                "model": setup["model"]["model_id"],
                "dataset": BATCH_DATASET,
                "dataset_version": dataset["version"],
            }
            cold = self._warm_batch_workers(api, tier, body, rows)
            output_lines = None
            for i in range(self.sizes.rounds):
                wall, job = api.run_job(body, self.sizes.batch_timeout)
                result = job.get("result") or {}
                if result.get("rows") != rows or result.get("invalid_rows"):
                    raise BenchError(f"batch job scored {result.get('rows')} rows of {rows}")
                fleet = _seconds_between(job["started_at"], job["finished_at"])
                fig.add(rows / fleet, rows / self._time(in_process))
                walls.append(round(wall, 3))
                kept = ("engine", "predicted_rows", "invalid_rows", "timings")
                results.append({k: result[k] for k in kept if k in result})
                if i == 0:  # untimed: the output is there, one line per row
                    output_lines = _count_lines(api, f"{api.base}/jobs/{job['job_id']}/output")
                    if output_lines != rows + 1:
                        raise BenchError(f"output has {output_lines} lines for {rows} rows")
                self.progress.step()
        one_call = self._time(lambda: pipeline.predict(frame))
        fig.details = {
            "rows": rows,
            "csv_bytes": len(csv),
            "upload_s": round(upload_s, 3),
            "submit_to_succeeded_s": walls,
            "results": results,
            "output_lines": output_lines,
            "workers": tier.workers,
            "chunk_rows": chunk,
            "first_jobs_rows_per_s": cold,
            "in_process_one_call_rows_per_s": round(rows / one_call),
            "fleet_is": "rows / (finished_at - started_at) of the job: the worker's whole run"
            " (load the model, get the dataset, predict, write and store the CSV), steady"
            " state: each worker ran a job on the dataset first, so it is parsed in its frame"
            " cache (those first jobs, which read and parse it: first_jobs_rows_per_s)",
            "baseline_is": "rows / seconds of pipeline.predict (the model's own scikit-learn"
            " pipeline) on the same rows, parsed beforehand, in this process, in the job's"
            " chunks",
        }
        return fig

    def _warm_batch_workers(
        self, api: Api, tier: Tier, body: dict[str, Any], rows: int
    ) -> list[float]:
        """Run batch jobs until every worker ran one (frame cache warm); their rows/s."""
        seen: set[str] = set()
        rates = []
        for _ in range(4):  # bounded: concurrent jobs normally land on distinct workers
            ids = [api.submit(body) for _ in range(max(tier.workers, 1))]
            for job_id in ids:
                job = api.wait(job_id, self.sizes.batch_timeout)
                if job["status"] != "succeeded":
                    raise BenchError(f"batch job {job_id} {job['status']}: {job.get('error')}")
                seen.add(job.get("worker") or "")
                rates.append(round(rows / _seconds_between(job["started_at"], job["finished_at"])))
            if len(seen) >= tier.workers:
                break
        return rates


def _count_lines(api: Api, url: str) -> int:
    lines = 0
    with api.session.get(url, stream=True, timeout=120) as response:
        if response.status_code != 200:
            raise BenchError(f"GET {url} answered {response.status_code}")
        for chunk in response.iter_content(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def api_workers(tier: Tier) -> int:
    """gunicorn worker processes of the tier's API (2, the default, for an external API)."""
    pid = tier.api_pid()
    return len(child_pids(pid)) if pid else 2


def _workers(tier: Tier) -> dict[str, Any]:
    threads = tier.env.get("API_THREADS") or tier.settings.api_threads
    n = api_workers(tier)
    return {
        "tensorfleet": f"gunicorn, {n} processes x {threads} threads (gthread)",
        "mlflow": f"uvicorn, {n} processes (mlflow models serve -w {n})",
    }


def _model_facts(model: dict[str, Any]) -> dict[str, Any]:
    onnx = (model.get("formats") or {}).get("onnx") or {}
    return {
        "algorithm": model.get("algorithm"),
        "hyperparameters": model.get("hyperparameters"),
        "dataset": model.get("dataset_name"),
        "size_bytes": model.get("size_bytes"),
        "onnx": onnx.get("status"),
    }
