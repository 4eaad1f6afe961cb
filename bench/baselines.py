"""The baseline of every figure, measured in the same run as the service.

- ``NoopWorker`` + ``noop_round_trip``: a bare Celery round trip (``apply_async`` + ``get``)
  on the same Redis, with TensorFleet's Celery settings and worker options.
- ``in_process_training``: ``train_pipeline`` + ``save_model`` to a BytesIO, i.e. the fit,
  score and serialization a worker does, without the service around it.
- ``MinimalApp``: ``bench/minimal_app.py`` under the API's gunicorn command and settings.
- ``gridfs_read``: the model file straight from GridFS with pymongo, in bounded windows.
- ``MlflowLogger``: MLflow's in-process tracking + registry on SQLite (benchmark-only dep).
- ``save_mlflow_model`` + ``MlflowScoringServer``: the same pipeline served by MLflow's own
  scoring server (``mlflow models serve --env-manager local``), see ``bench/mlflow_serve.py``.
- ``in_process_load``: deserializing a model file (joblib or ONNX) in this process.
- ``SklearnSearch``: ``RandomizedSearchCV(n_jobs=2)`` in this process over the rows, pipeline,
  folds and distributions of a TensorFleet random search.
- ``bare_rss``: resident memory of the bare Celery worker and the minimal app's workers.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from bson import ObjectId
from celery import Celery
from pymongo.database import Database
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold

from app.ml.hyperparameters import validate_hyperparameters
from app.ml.registry import Algorithm, get_algorithm
from app.ml.search_space import Range, parse_space
from app.ml.training import (
    build_pipeline,
    load_model,
    prepare_and_split,
    save_model,
    train_pipeline,
)
from bench.harness import BenchError, Tier, bin_path, project_dir
from bench.noop_app import NOOP_QUEUE, NOOP_TASK
from localstack import free_ports
from localstack.process import HOST, Child, stop_children, wait_until

MIB = 1024 * 1024
WINDOW_BYTES = 8 * MIB  # like app.storage.artifacts: nx-27017 refuses replies over ~48 MB


class BaselineProcess:
    """A baseline server run as one child process; ``with`` starts it and stops it."""

    child: Child | None = None

    def __exit__(self, *exc: object) -> None:
        if self.child is not None:
            stop_children([self.child], timeout=10)

    @property
    def pid(self) -> int:
        """The child's main process (worker main process, gunicorn master)."""
        assert self.child is not None
        return self.child.pid


# -- tiny_job_overhead -------------------------------------------------------------------
class NoopWorker(BaselineProcess):
    """A ``celery worker`` of ``bench.noop_app`` on the tier's Redis (same options as ours)."""

    def __init__(self, tier: Tier, log_dir: Path) -> None:
        self.tier, self.log_dir = tier, log_dir
        self.child: Child | None = None

    def __enter__(self) -> NoopWorker:
        argv = [bin_path("celery"), "-A", "bench.noop_app", "worker", "-Q", NOOP_QUEUE]
        argv += ["-c", "1", "--prefetch-multiplier", "1", "-n", "noop@%h", "--loglevel", "INFO"]
        env = {
            **os.environ,
            "REDIS_URL": self.tier.redis_url,
            "MONGODB_URL": self.tier.mongodb_url,
            "PYTHONPATH": str(project_dir()),
            "PYTHONUNBUFFERED": "1",
        }
        self.child = Child(
            "noop-worker",
            argv,
            env=env,
            cwd=project_dir(),
            log_path=self.log_dir / "noop-worker.log",
        )
        if not wait_until(lambda: " ready." in self.child.log_since_start(), timeout=60):
            self.__exit__()
            raise BenchError(f"no-op worker not ready:\n{self.child.log_tail()}")
        return self


def noop_round_trip(celery: Celery, timeout: float = 10.0) -> float:
    """Seconds of one ``apply_async`` + ``get`` of the no-op task."""
    start = time.perf_counter()
    celery.send_task(NOOP_TASK, queue=NOOP_QUEUE).get(timeout=timeout)
    return time.perf_counter() - start


# -- big_job_efficiency ------------------------------------------------------------------
def in_process_training(
    frame: pd.DataFrame, dataset: dict[str, Any], algorithm: str, params: dict, compression: int
) -> float:
    """Seconds of the worker's fit + score + serialize, in this process (random_state 42)."""
    start = time.perf_counter()
    result = train_pipeline(
        frame,
        target=dataset["target"],
        task=dataset["task"],
        algorithm=get_algorithm(algorithm),
        hyperparameters=params,
    )
    save_model(result.pipeline, io.BytesIO(), compress=compression)
    return time.perf_counter() - start


# -- submit_throughput -------------------------------------------------------------------
class MinimalApp(BaselineProcess):
    """``bench.minimal_app:app`` served exactly like the tier's API (its argv and env)."""

    def __init__(self, tier: Tier, log_dir: Path) -> None:
        self.tier, self.log_dir = tier, log_dir
        self.port = free_ports(1)[0]
        self.child: Child | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{HOST}:{self.port}"

    def argv_and_env(self) -> tuple[list[str], dict[str, str]]:
        """The API's own gunicorn command line (app and port swapped) and environment."""
        pid = self.tier.api_pid()
        if pid is None:  # external API: the stack's default command
            argv = [bin_path("gunicorn"), "--workers", "2", "--access-logfile", "-", "APP"]
            env = {**os.environ, "REDIS_URL": self.tier.redis_url}
        else:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
            raw = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
            env = dict(item.split("=", 1) for item in raw if "=" in item)
        if "--bind" in argv:
            i = argv.index("--bind")
            del argv[i : i + 2]
        argv = [a if a != "app:create_app()" else "APP" for a in argv]
        if "APP" not in argv:
            raise BenchError(f"cannot derive the minimal app's command from {shlex.join(argv)}")
        at = argv.index("APP")
        argv[at : at + 1] = ["--bind", f"{HOST}:{self.port}", "bench.minimal_app:app"]
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.log_dir)  # not the API's: nothing written
        env["PYTHONPATH"] = str(project_dir())
        return argv, env

    def __enter__(self) -> MinimalApp:
        import requests

        argv, env = self.argv_and_env()
        self.child = Child(
            "minimal-app",
            argv,
            env=env,
            cwd=project_dir(),
            log_path=self.log_dir / "minimal-app.log",
        )

        def up() -> bool:
            try:
                return requests.get(self.url + "/", timeout=1).status_code == 404
            except requests.RequestException:
                return False

        if not wait_until(up, timeout=60):
            self.__exit__()
            raise BenchError(f"minimal app not up:\n{self.child.log_tail()}")
        return self


# -- download_throughput -----------------------------------------------------------------
def gridfs_read(db: Database, file_id: ObjectId, bucket: str = "fs") -> tuple[float, int]:
    """(seconds, bytes) of reading a GridFS file's chunks with pymongo, 8 MiB per query."""
    start = time.perf_counter()
    doc = db[f"{bucket}.files"].find_one({"_id": file_id})
    if doc is None:
        raise BenchError(f"GridFS file {file_id} not found")
    chunk_size, length = int(doc["chunkSize"]), int(doc["length"])
    window = max(1, WINDOW_BYTES // chunk_size)
    total = 0
    for first in range(0, -(-length // chunk_size), window):
        query = {"files_id": file_id, "n": {"$gte": first, "$lt": first + window}}
        for chunk in db[f"{bucket}.chunks"].find(query).sort("n", 1):
            total += len(chunk["data"])
    return time.perf_counter() - start, total


# -- vs_mlflow ---------------------------------------------------------------------------
class MlflowLogger:
    """MLflow in this process: SQLite tracking + registry store, artifacts on local disk."""

    def __init__(self, workdir: Path) -> None:
        import mlflow  # benchmark-only dependency (bench/requirements.txt)
        import mlflow.sklearn

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.ERROR)
        workdir.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{workdir / 'mlflow.db'}"
        self.mlflow = mlflow
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        name = "tensorfleet-bench"
        if mlflow.get_experiment_by_name(name) is None:
            mlflow.create_experiment(name, artifact_location=(workdir / "artifacts").as_uri())
        mlflow.set_experiment(name)

    def log(self, pipeline: Any, params: dict, metrics: dict, model_name: str) -> float:
        """Seconds of start_run + log_params + log_metrics + log_model (registered, pickle)."""
        import warnings

        import numpy
        import sklearn

        mlflow = self.mlflow
        requirements = [
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={numpy.__version__}",
        ]
        quiet = io.StringIO()  # MLflow prints "Created version ..." on stderr
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            with mlflow.start_run():
                mlflow.log_params(params)
                mlflow.log_metrics(metrics)
                mlflow.sklearn.log_model(
                    pipeline,
                    name="model",
                    registered_model_name=model_name,
                    pip_requirements=requirements,
                    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
                )
            return time.perf_counter() - start


# -- predict_p50_vs_mlflow / predict_throughput_vs_mlflow ----------------------------------
def save_mlflow_model(pipeline: Any, path: Path, sample: pd.DataFrame) -> None:
    """``mlflow.sklearn.save_model`` of ``pipeline`` with a signature inferred from ``sample``
    (so MLflow checks each request's columns and types, as TensorFleet does), pickled."""
    import warnings

    import mlflow.sklearn  # benchmark-only dependency (bench/requirements.txt)
    import numpy
    import sklearn
    from mlflow.models import infer_signature

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    requirements = [
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={numpy.__version__}",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            pipeline,
            str(path),
            signature=infer_signature(sample, pipeline.predict(sample)),
            pip_requirements=requirements,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
        )


class MlflowScoringServer(BaselineProcess):
    """MLflow's scoring server (``mlflow.pyfunc.scoring_server``: a FastAPI app under uvicorn)
    of a saved model, on ``workers`` processes: the command ``mlflow models serve
    --env-manager local -w N`` runs (``scoring_server.get_cmd``), started through
    ``bench.mlflow_serve``, which sets TCP_NODELAY on its connections (see there)."""

    def __init__(self, model_dir: Path, workers: int, log_dir: Path) -> None:
        self.model_dir, self.workers, self.log_dir = model_dir, workers, log_dir
        self.port = free_ports(1)[0]
        self.child: Child | None = None

    @property
    def url(self) -> str:
        """Base URL (``/invocations``, ``/ping``)."""
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> MlflowScoringServer:
        import requests
        from mlflow.pyfunc import scoring_server

        command, env = scoring_server.get_cmd(
            str(self.model_dir), port=self.port, host=HOST, nworkers=self.workers
        )
        argv = shlex.split(command)
        if argv[0] != "uvicorn":
            raise BenchError(f"unexpected MLflow serving command: {command}")
        env["PYTHONPATH"] = str(project_dir())  # the pickled pipeline may name app classes
        self.child = Child(
            "mlflow-scoring",
            [sys.executable, "-m", "bench.mlflow_serve", *argv[1:]],
            env=env,
            cwd=project_dir(),
            log_path=self.log_dir / "mlflow-scoring.log",
        )

        def up() -> bool:  # /ping answers once one worker is up: wait for every one
            log = self.child.log_since_start()
            if log.count("Application startup complete.") < self.workers:
                return False
            try:
                return requests.get(self.url + "/ping", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        if not wait_until(up, timeout=90):
            self.__exit__()
            raise BenchError(f"MLflow scoring server not up:\n{self.child.log_tail()}")
        return self


# -- model_cold_load_ms -------------------------------------------------------------------
def in_process_load(raw: bytes, fmt: str) -> float:
    """Seconds to deserialize a model file in this process: ``load_model`` (joblib) or an
    ONNX Runtime session with the serving options (one thread)."""
    start = time.perf_counter()
    if fmt == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        onnxruntime.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    else:
        load_model(io.BytesIO(raw))
    return time.perf_counter() - start


# -- search_vs_sklearn -------------------------------------------------------------------
class SklearnSearch:
    """``RandomizedSearchCV(n_jobs=n_jobs, refit=True)`` in this process, on what a TensorFleet
    random search of a classification dataset works with: the training rows of
    ``prepare_and_split`` (stratified hold-out), the pipeline of ``score_trial``
    (``build_preprocessor`` + ``build_estimator``: the fleet's fixed params, ``random_state``),
    ``StratifiedKFold(cv, shuffle=True, random_state)`` and the space's own distributions
    (``parse_space``), keyed ``model__<name>``: the same sorted order of names, so
    ``ParameterSampler`` draws the same candidates from the same ``random_state`` (the figure
    checks that it did, and that every fold score is the fleet's)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        target: str,
        task: str,
        algorithm: Algorithm,
        space: Mapping[str, Any],
        trials: int,
        cv: int,
        scorer: str,
        random_state: int,
        test_size: float,
        n_jobs: int,
    ) -> None:
        if task != "classification":
            raise BenchError(f"SklearnSearch splits like a classification search, not {task}")
        X_train, _, y_train, _, features = prepare_and_split(
            frame, target, task, test_size, random_state
        )
        self.X, self.y = X_train, y_train
        defaults = validate_hyperparameters(algorithm, task, {})  # a trial's, but its candidate
        self.pipeline = build_pipeline(X_train, features, algorithm, task, defaults, random_state)
        parsed = parse_space(algorithm, task, space, {})
        self.distributions = {
            f"model__{name}": entry.distribution() if isinstance(entry, Range) else list(entry)
            for name, entry in parsed.items()
        }
        self.splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
        self.trials, self.scorer, self.n_jobs = trials, scorer, n_jobs
        self.random_state = random_state

    def run(self) -> tuple[float, RandomizedSearchCV]:
        """(seconds of ``fit``: every candidate on every fold, then the refit; the search)."""
        search = RandomizedSearchCV(
            clone(self.pipeline),
            self.distributions,
            n_iter=self.trials,
            scoring=self.scorer,
            n_jobs=self.n_jobs,
            cv=self.splitter,
            refit=True,
            random_state=self.random_state,
            error_score="raise",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as score_trial does
            start = time.perf_counter()
            search.fit(self.X, self.y)
            return time.perf_counter() - start, search

    def warm(self, grid: Mapping[str, list[Any]]) -> float:
        """Seconds of a search over a cheap ``grid`` (estimator params, 2 folds) that starts
        joblib's ``n_jobs`` worker processes (its reusable pool, kept between calls) and their
        imports: the fleet's workers are running and warm before a search is submitted."""
        cheap = {f"model__{name}": list(values) for name, values in grid.items()}
        start = time.perf_counter()
        GridSearchCV(clone(self.pipeline), cheap, cv=2, n_jobs=self.n_jobs, refit=False).fit(
            self.X, self.y
        )
        return time.perf_counter() - start


# -- worker_rss_mb / api_rss_mb ----------------------------------------------------------
def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` in MiB (/proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(p) for p in (task / "children").read_text().split()]
    return kids


def tree_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` and their live children."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            total += tree_cpu_seconds(child_pids(pid))
        except (OSError, IndexError):
            continue
    return total
