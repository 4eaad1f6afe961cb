"""``big_job_efficiency`` and ``worker_scaling``: CPU-bound jobs through the service."""

from __future__ import annotations

import time

from app.ml.tabular import read_csv
from app.tasks.celery_app import create_celery
from bench.baselines import in_process_training
from bench.harness import (
    Api,
    BenchError,
    Harness,
    Tier,
    set_consuming_workers,
    synthetic_csv,
    worker_hosts,
)
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

BIG_DATASET = "bench_big"
SCALE_DATASET = "bench_mid"


def big_job_efficiency(h: Harness, tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: submit → succeeded of random_forest over the same work done in-process.

    Each worker first runs a cheap job on the dataset, so the measured job finds the CSV
    parsed in its per-process frame cache (steady state); the cold first load is reported
    in ``details``.
    """
    fig = Figure("big_job_efficiency", "s", "<=", 1.05)
    csv = synthetic_csv(sizes.big_rows, sizes.big_features)
    params = {"n_estimators": sizes.big_trees}
    body = {
        "dataset": BIG_DATASET,
        "algorithm": "random_forest",
        "hyperparameters": params,
        "model_name": "bench_big_rf",
    }
    with Api(tier) as api:
        dataset = api.ensure_dataset(BIG_DATASET, csv, "label")
        start = time.perf_counter()
        api.warm_workers(BIG_DATASET, timeout=sizes.big_timeout)
        fig.details["warmup_s"] = round(time.perf_counter() - start, 3)
        frame = read_csv(csv)
        for _ in range(sizes.rounds):
            service, job = api.run_job(body, sizes.big_timeout)
            baseline = in_process_training(
                frame, dataset, "random_forest", params, tier.model_compression
            )
            fig.add(service, baseline)
            fig.details.setdefault("training_time_s", []).append(
                job["result"]["metrics"]["training_time"]
            )
            progress.step()
    fig.details.update(
        rows=sizes.big_rows,
        features=sizes.big_features,
        trees=sizes.big_trees,
        compression=tier.model_compression,
    )
    return fig


def drain_rate(tier: Tier, sizes: Sizes) -> float:
    """Jobs per second: submit ``scale_jobs`` jobs at once, wait until all succeeded."""
    body = {
        "dataset": SCALE_DATASET,
        "algorithm": "random_forest",
        "hyperparameters": {"n_estimators": sizes.scale_trees},
        "model_name": "bench_scale",
    }
    timeout = 30.0 + 10.0 * sizes.scale_jobs
    with Api(tier) as api:
        start = time.perf_counter()
        ids = [api.submit(body) for _ in range(sizes.scale_jobs)]
        for job_id in ids:
            job = api.wait(job_id, max(1.0, timeout - (time.perf_counter() - start)))
            if job["status"] != "succeeded":
                raise BenchError(f"job {job_id} {job['status']}: {job.get('error')}")
        return sizes.scale_jobs / (time.perf_counter() - start)


def prepare_scaling(tier: Tier, sizes: Sizes) -> None:
    """Upload the mid dataset and warm every worker's frame cache."""
    with Api(tier) as api:
        api.ensure_dataset(SCALE_DATASET, synthetic_csv(sizes.scale_rows, 20), "label")
        api.warm_workers(SCALE_DATASET)


def worker_scaling(tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Round i: the drain rate with both workers consuming, then with one (same tier).

    The second worker stops consuming the training queue (``cancel_consumer``) for the
    1-worker drain and idles; alternating within a round keeps the two drains of a ratio
    seconds apart, so load that comes and goes on the machine hits both alike.
    """
    if tier.workers < 2:
        raise BenchError("worker_scaling needs a tier of 2 workers")
    fig = Figure("worker_scaling", "jobs/s", ">=", 1.8)
    prepare_scaling(tier, sizes)
    celery = create_celery(tier.settings)
    hosts = worker_hosts(celery)
    try:
        for _ in range(sizes.rounds):
            set_consuming_workers(celery, 2, hosts)
            two = drain_rate(tier, sizes)
            set_consuming_workers(celery, 1, hosts)
            fig.add(two, drain_rate(tier, sizes))
            progress.step()
    finally:
        set_consuming_workers(celery, None, hosts)
        celery.close()
    fig.details = {
        "jobs": sizes.scale_jobs,
        "rows": sizes.scale_rows,
        "trees": sizes.scale_trees,
        "baseline_is": "the same drain with 1 of the 2 workers consuming",
    }
    return fig
