"""``worker_rss_mb`` and ``api_rss_mb``: resident memory of idle processes after ≥ 100 jobs.

A worker is two processes: the celery main process and its prefork pool child (which
runs the jobs). The figure is the larger VmRSS of the two, over all workers (the issue
asks about "an idle worker process"); every number is in ``details``. For the API it is
the larger VmRSS of the gunicorn worker processes. Baselines, for reference only (the
goal bounds the value): the bare no-op Celery worker and the minimal Flask app's workers.
"""

from __future__ import annotations

import time

from bench.baselines import child_pids, rss_mib
from bench.harness import Api, Harness, Tier
from bench.latency import TINY_JOB
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

SAMPLES = 3


def top_up_jobs(tier: Tier, sizes: Sizes) -> None:
    """Run tiny jobs until the tier has run ``rss_after_jobs`` jobs (bounded by that count)."""
    with Api(tier) as api:
        for _ in range(max(0, sizes.rss_after_jobs - tier.jobs_run)):
            api.run_job(TINY_JOB, 30.0)


def rss_figures(h: Harness, tier: Tier, sizes: Sizes, progress: Progress) -> list[Figure]:
    """Both figures, sampled ``SAMPLES`` times 0.5 s apart once every worker is idle."""
    worker = Figure("worker_rss_mb", "MiB", "<=", 200.0, goal_on="value")
    api = Figure("api_rss_mb", "MiB", "<=", 150.0, goal_on="value")
    if tier.stack is None:
        for fig in (worker, api):
            fig.skipped = "external API: its processes are not local"
        return [worker, api]
    top_up_jobs(tier, sizes)
    time.sleep(1.0)  # the last job's acks and events
    noop = h.notes.get("noop_worker_rss_mib")
    minimal = h.notes.get("minimal_app_rss_mib")
    for _ in range(SAMPLES):
        workers = {pid: _worker_sample(pid) for pid in tier.worker_pids()}
        apis = [rss_mib(pid) for pid in child_pids(tier.api_pid())]
        worker.add(
            max(max(w.values()) for w in workers.values()), max(noop.values()) if noop else None
        )
        api.add(max(apis), max(minimal) if minimal else None)
        time.sleep(0.5)
    worker.details = {
        "jobs_run": tier.jobs_run,
        "workers": list(workers.values()),
        "noop_worker": noop,
        "measure": "max VmRSS of main and pool child",
    }
    api.details = {
        "jobs_run": tier.jobs_run,
        "gunicorn_workers": apis,
        "minimal_app": minimal,
        "measure": "max VmRSS of the gunicorn worker processes",
    }
    progress.step()
    return [worker, api]


def _worker_sample(pid: int) -> dict[str, float]:
    pool = [rss_mib(child) for child in child_pids(pid)]
    return {"main": round(rss_mib(pid), 1), "pool": round(max(pool, default=0.0), 1)}
