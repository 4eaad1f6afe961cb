"""``tiny_job_overhead`` and ``vs_mlflow``: how long a trivial job takes, end to end.

A tiny job is iris ``decision_tree``: submit, then ``GET /jobs/<id>?wait=`` until it ends.
Its p50 is compared with a bare Celery no-op round trip on the same Redis (what the
queue alone costs) and with MLflow logging the same fitted pipeline in-process.
"""

from __future__ import annotations

import statistics
from typing import Any

from app.ml.registry import get_algorithm
from app.ml.tabular import read_csv
from app.ml.training import train_pipeline
from app.tasks.celery_app import create_celery
from bench.baselines import MlflowLogger, NoopWorker, in_process_training, noop_round_trip, rss_mib
from bench.harness import Api, Harness, Tier, project_dir
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

TINY_JOB = {"dataset": "iris", "algorithm": "decision_tree", "model_name": "bench_tiny"}
TIMEOUT = 30.0
WARMUP = 3


def tiny_job_overhead(h: Harness, tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: p50 of ``noop_calls`` Celery round trips, then p50 of ``tiny_jobs`` jobs."""
    fig = Figure("tiny_job_overhead", "ms", "<=", 6.0)
    celery = create_celery(tier.settings)
    try:
        with Api(tier) as api, NoopWorker(tier, h.log_dir) as noop:
            for _ in range(WARMUP):
                api.run_job(TINY_JOB, TIMEOUT)
                noop_round_trip(celery)
            for _ in range(sizes.rounds):
                noops = [noop_round_trip(celery) for _ in range(sizes.noop_calls)]
                jobs = [api.run_job(TINY_JOB, TIMEOUT)[0] for _ in range(sizes.tiny_jobs)]
                fig.add(statistics.median(jobs) * 1000, statistics.median(noops) * 1000)
                progress.step()
            h.notes["noop_worker_rss_mib"] = _worker_rss(noop.pid)
            dataset = api.session.get(f"{api.base}/datasets/iris", timeout=30).json()
    finally:
        celery.close()
    frame = read_csv((project_dir() / "datasets" / "iris.csv").read_bytes())
    fits = [
        in_process_training(frame, dataset, "decision_tree", {}, tier.model_compression)
        for _ in range(max(3, sizes.tiny_jobs // 2))
    ]
    fig.details = {
        "tiny_jobs_per_round": sizes.tiny_jobs,
        "noop_calls_per_round": sizes.noop_calls,
        # the job's own work, in this process: what no queue can remove
        "in_process_fit_score_save_ms": round(statistics.median(fits) * 1000, 2),
    }
    return fig


def vs_mlflow(h: Harness, tier: Tier, tiny: Figure, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: the tiny-job p50 of that round over the p50 of ``mlflow_runs`` MLflow logs."""
    fig = Figure("vs_mlflow", "ms", "<=", 1.0)
    if sizes.mlflow_runs <= 0:
        fig.skipped = "mlflow_runs = 0 (smoke mode)"
        return fig
    if not tiny.values:
        fig.error = "no tiny_job_overhead measurement to compare"
        return fig
    try:
        logger = MlflowLogger(h.data_dir / "mlflow")
    except ImportError:
        fig.error = "mlflow is not installed: pip install -r bench/requirements.txt"
        return fig
    with Api(tier) as api:
        dataset = api.session.get(f"{api.base}/datasets/iris", timeout=30).json()
    frame = read_csv((project_dir() / "datasets" / "iris.csv").read_bytes())
    result = train_pipeline(
        frame,
        target=dataset["target"],
        task=dataset["task"],
        algorithm=get_algorithm("decision_tree"),
        hyperparameters={},
    )
    metrics = {k: float(v) for k, v in result.metrics.items() if _is_number(v)}
    log = lambda: logger.log(result.pipeline, result.hyperparameters, metrics, "bench_iris_dt")  # noqa: E731
    log()  # warm-up: the first run creates the registered model
    for tiny_p50 in tiny.values:
        runs = [log() for _ in range(sizes.mlflow_runs)]
        fig.add(tiny_p50, statistics.median(runs) * 1000)
        progress.step()
    fig.details = {
        "mlflow_runs_per_round": sizes.mlflow_runs,
        "baseline_is": "MLflow calls only (pipeline fitted beforehand)",
    }
    return fig


def _worker_rss(pid: int) -> dict[str, float]:
    from bench.baselines import child_pids

    return {"main": rss_mib(pid), "pool": max((rss_mib(p) for p in child_pids(pid)), default=0)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
