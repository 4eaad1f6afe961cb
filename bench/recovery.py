"""``recovery_after_worker_kill``: seconds from a whole-worker SIGKILL mid-fit until the job
runs again on the other worker, with default settings (lease, heartbeat, supervisor tick).

Each round: a digits gradient-boosting job (~5 s fit) is submitted, caught fitting, and its
worker's main process and pool child are killed together; the figure is the time until the
job is seen ``running`` again with ``attempts == 2``. Baseline (a reference point: the goal
bounds the value): the same job's pickup on the healthy fleet, submit → seen running. The
killed worker is started again before the next round. Without leases and the supervisor
this took the visibility timeout (``JOB_HARD_TIME_LIMIT`` + 300 s, ~36 minutes by default).
"""

from __future__ import annotations

import signal
import time
from typing import Any

from bench.harness import Api, BenchError, Tier
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

JOB = {
    "dataset": "digits",
    "algorithm": "gradient_boosting",
    "hyperparameters": {"n_estimators": 80},
}


def _seen(api: Api, job_id: str, check: Any, timeout: float) -> dict[str, Any]:
    """Poll the job (every 50 ms) until ``check(job)``; BenchError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.session.get(f"{api.base}/jobs/{job_id}", timeout=30)
        response.raise_for_status()
        job = response.json()
        if check(job):
            return job
        time.sleep(0.05)
    raise BenchError(f"job {job_id} never reached the expected state")


def recovery_after_worker_kill(tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """The figure, ``sizes.rounds`` kills."""
    fig = Figure("recovery_after_worker_kill", "s", "<=", 30.0, goal_on="value")
    if tier.stack is None:
        fig.skipped = "external API: its workers are not local"
        return fig
    with Api(tier) as api:
        for _ in range(sizes.rounds):
            started = time.monotonic()
            job_id = api.submit(JOB)
            job = _seen(api, job_id, lambda j: j["progress"]["stage"] == "fitting", 60)
            pickup = time.monotonic() - started
            name = str(job["worker"]).split("@")[0]
            killed = time.monotonic()
            tier.stack.children[name].signal_group(signal.SIGKILL)
            _seen(api, job_id, lambda j: j["attempts"] >= 2 and j["status"] == "running", 120)
            fig.add(time.monotonic() - killed, pickup)
            api.wait(job_id, 120)
            worker = tier.stack.restart(name)
            _until(lambda w=worker: " ready." in w.log_since_start(), 60)
            progress.step()
    fig.details = {"job": JOB, "lease_seconds": tier.settings.lease_seconds}
    return fig


def _until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError("a restarted worker did not come up")
        time.sleep(0.2)
