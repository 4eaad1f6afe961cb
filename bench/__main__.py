"""``python -m bench``: run every figure, print the table, write ``bench/results.json``.

Phases share one Redis + MongoDB and each runs on its own app tier:
  0 workers: submit_throughput (the API alone on the CPU)
  2 workers: tiny_job_overhead, vs_mlflow, big_job_efficiency, worker_scaling (2 workers
             consuming, then 1), worker_rss_mb / api_rss_mb (after >= 100 jobs)
  1 worker, MODEL_COMPRESSION=0: download_throughput
  2 workers and beat, default settings: recovery_after_worker_kill (smoke: short leases)
Exit status: 0 when every figure was measured (goals met or not), 1 if one could not be.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import download as download_fig
from bench import latency, memory, recovery, throughput, training_jobs
from bench.harness import Harness, Tier
from bench.progress import Progress
from bench.report import Figure, table, write_results
from bench.sizes import FULL, SMOKE, Sizes

ORDER = [
    "tiny_job_overhead",
    "big_job_efficiency",
    "submit_throughput",
    "worker_scaling",
    "download_throughput",
    "vs_mlflow",
    "worker_rss_mb",
    "api_rss_mb",
    "recovery_after_worker_kill",
]
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
Step = tuple[str, Callable[[Tier], Figure | list[Figure]]]  # (figure name, measure on a tier)


class Run:
    """The figures of one run, measured phase by phase within the time budget."""

    def __init__(self, h: Harness, sizes: Sizes, progress: Progress) -> None:
        self.h, self.sizes, self.progress = h, sizes, progress
        self.deadline = time.monotonic() + sizes.budget_seconds
        self.figures: dict[str, Figure] = {}

    def measure(self, name: str, action: Callable[[], Figure | list[Figure]]) -> None:
        """Run ``action`` unless the budget is spent; record its figure(s) or its error."""
        self.progress.describe(name)
        if time.monotonic() > self.deadline:
            self.figures[name] = _placeholder(name, skipped="time budget spent")
            return
        load_before = os.getloadavg()[0]
        try:
            result = action()
        except Exception as exc:  # one broken figure must not hide the others
            logging.getLogger("bench").error("%s failed:\n%s", name, traceback.format_exc())
            self.figures[name] = _placeholder(name, error=f"{type(exc).__name__}: {exc}")
            return
        for fig in result if isinstance(result, list) else [result]:
            # other work on the machine skews every figure: the 1-minute load shows it
            fig.details["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            self.figures[fig.name] = fig

    def in_tier(
        self, workers: int, env: dict[str, str], steps: list[Step], beat: bool = False
    ) -> None:
        """Measure ``steps`` on a tier of ``workers`` workers; if the tier fails, they fail."""
        try:
            with self.h.tier(workers, env, beat) as tier:
                for name, action in steps:
                    self.measure(name, lambda action=action: action(tier))
        except Exception as exc:  # the tier did not start or stop cleanly
            logging.getLogger("bench").error("tier of %d workers failed: %s", workers, exc)
            for name, _ in steps:
                self.figures.setdefault(name, _placeholder(name, error=f"tier: {exc}"))

    def all(self) -> list[Figure]:
        """Every figure in table order (placeholders for those never reached)."""
        return [self.figures.get(n) or _placeholder(n, error="not reached") for n in ORDER]


def _placeholder(name: str, error: str | None = None, skipped: str | None = None) -> Figure:
    fig = Figure(name, "", "<=", 0)
    fig.error, fig.skipped = error, skipped
    return fig


def run(h: Harness, sizes: Sizes, progress: Progress) -> list[Figure]:
    """Every phase, in the order of the module docstring."""
    r, s, p = Run(h, sizes, progress), sizes, progress

    def vs_mlflow(tier: Tier) -> Figure:
        tiny = r.figures.get("tiny_job_overhead") or _placeholder("tiny_job_overhead")
        return latency.vs_mlflow(h, tier, tiny, s, p)

    download = ("download_throughput", lambda t: download_fig.download_throughput(h, t, s, p))
    r.in_tier(0, {}, [("submit_throughput", lambda t: throughput.submit_throughput(h, t, s, p))])
    two_workers = [
        ("tiny_job_overhead", lambda t: latency.tiny_job_overhead(h, t, s, p)),
        ("vs_mlflow", vs_mlflow),
        ("big_job_efficiency", lambda t: training_jobs.big_job_efficiency(h, t, s, p)),
        ("worker_scaling", lambda t: training_jobs.worker_scaling(t, s, p)),
        ("worker_rss_mb", lambda t: memory.rss_figures(h, t, s, p)),
    ]
    r.in_tier(2, {}, two_workers)
    r.in_tier(1, {"MODEL_COMPRESSION": "0"}, [download])
    recover = ("recovery_after_worker_kill", lambda t: recovery.recovery_after_worker_kill(t, s, p))
    r.in_tier(2, dict(s.recovery_env), [recover], beat=True)
    return r.all()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, report."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (the test suite's run)")
    parser.add_argument("--rounds", type=int, help="measurements per figure (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs) afterwards")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = SMOKE if args.smoke else FULL
    if args.rounds:
        sizes = sizes.with_rounds(args.rounds)
    started = time.monotonic()
    # steps: throughput, tiny, mlflow, big, scaling, download (rounds each), rss
    progress = Progress(total=7 * sizes.rounds + 1, enabled=not args.no_progress)
    h = Harness(keep_data=args.keep)
    try:
        progress.describe("starting Redis and MongoDB")
        h.start()
        figures = run(h, sizes, progress)
    finally:
        progress.close()
        h.close()
    elapsed = time.monotonic() - started
    print(table(figures))
    print(
        f"\n{len(figures)} figures, {sizes.rounds} round(s) each, {elapsed:.0f} s in all;"
        f" results in {args.out}" + (f"; logs in {h.log_dir}" if args.keep else "")
    )
    write_results(figures, args.out)
    return 1 if any(fig.error for fig in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
