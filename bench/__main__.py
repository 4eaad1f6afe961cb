"""``python -m bench``: run every figure, print the table, write ``bench/results.json``.

Phases share one Redis + MongoDB and each runs on its own app tier:
  0 workers: submit_throughput (the API alone on the CPU)
  2 workers: tiny_job_overhead, vs_mlflow, big_job_efficiency, worker_scaling (2 workers
             consuming, then 1), worker_rss_mb / api_rss_mb (after >= 100 jobs)
  1 worker, MODEL_COMPRESSION=0: download_throughput
  2 workers: predict_p50_vs_mlflow, predict_throughput_vs_mlflow (with MLflow's scoring
             server beside it), predict_onnx_p50_ms, model_cold_load_ms,
             batch_predict_efficiency (bench/serving.py)
  2 workers and beat, default settings: recovery_after_worker_kill (smoke: short leases)
  2 workers: search_vs_sklearn, halving_speedup (bench/search.py: searches, 2 trials at a
             time)
  1 worker: drift_check_seconds (bench/drift.py: 100,000 prediction records inserted),
            then ui_page_ms (bench/ui.py: 10,000 jobs and model versions inserted; last)
Exit status: 0 when every figure was measured (goals met or not), 1 if one could not be.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import download as download_fig
from bench import drift as drift_fig
from bench import latency, memory, recovery, search, serving, throughput, training_jobs, ui
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
    "predict_p50_vs_mlflow",
    "predict_throughput_vs_mlflow",
    "predict_onnx_p50_ms",
    "model_cold_load_ms",
    "batch_predict_efficiency",
    "search_vs_sklearn",
    "halving_speedup",
    "ui_page_ms",
    "drift_check_seconds",
    "worker_rss_mb",
    "api_rss_mb",
    "recovery_after_worker_kill",
]
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
# the phases (--only) and their progress steps: (per round, once) - the RSS figures step once
PHASE_STEPS = {
    "submit": (1, 0),
    "training": (4, 1),
    "download": (1, 0),
    "serving": (5, 0),
    "recovery": (1, 0),
    "search": (2, 0),
    "drift": (1, 0),
    "ui": (1, 0),
}
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
        load_before, started = os.getloadavg()[0], time.monotonic()
        try:
            result = action()
        except Exception as exc:  # one broken figure must not hide the others
            logging.getLogger("bench").error("%s failed:\n%s", name, traceback.format_exc())
            self.figures[name] = _placeholder(name, error=f"{type(exc).__name__}: {exc}")
            return
        for fig in result if isinstance(result, list) else [result]:
            # other work on the machine skews every figure: the 1-minute load shows it
            fig.details["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            fig.details["elapsed_s"] = round(time.monotonic() - started, 1)  # the whole step
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


def run(
    h: Harness, sizes: Sizes, progress: Progress, only: frozenset[str] = frozenset()
) -> list[Figure]:
    """Every phase (or those in ``only``), in the order of the module docstring."""
    r, s, p = Run(h, sizes, progress), sizes, progress
    wanted = lambda phase: not only or phase in only  # noqa: E731

    def vs_mlflow(tier: Tier) -> Figure:
        tiny = r.figures.get("tiny_job_overhead") or _placeholder("tiny_job_overhead")
        return latency.vs_mlflow(h, tier, tiny, s, p)

    if wanted("submit"):
        submit = ("submit_throughput", lambda t: throughput.submit_throughput(h, t, s, p))
        r.in_tier(0, {}, [submit])
    if wanted("training"):
        two_workers = [
            ("tiny_job_overhead", lambda t: latency.tiny_job_overhead(h, t, s, p)),
            ("vs_mlflow", vs_mlflow),
            ("big_job_efficiency", lambda t: training_jobs.big_job_efficiency(h, t, s, p)),
            ("worker_scaling", lambda t: training_jobs.worker_scaling(t, s, p)),
            ("worker_rss_mb", lambda t: memory.rss_figures(h, t, s, p)),
        ]
        r.in_tier(2, {}, two_workers)
    if wanted("download"):
        download = ("download_throughput", lambda t: download_fig.download_throughput(h, t, s, p))
        r.in_tier(1, {"MODEL_COMPRESSION": "0"}, [download])
    if wanted("serving"):
        with serving.Phase(h, s, p) as phase:  # stops MLflow's scoring server afterwards
            r.in_tier(2, {}, phase.steps())
    if wanted("recovery"):
        recover = (
            "recovery_after_worker_kill",
            lambda t: recovery.recovery_after_worker_kill(t, s, p),
        )
        r.in_tier(2, dict(s.recovery_env), [recover], beat=True)
    if wanted("search"):
        searched = ("search_vs_sklearn", lambda t: search.search_vs_sklearn(t, s, p))
        halved = ("halving_speedup", lambda t: search.halving_speedup(t, s, p))
        r.in_tier(2, {}, [searched, halved])
    # drift, then the UI, on one tier (starting one costs seconds)
    last: list[Step] = []
    if wanted("drift"):
        last.append(("drift_check_seconds", lambda t: drift_fig.drift_check_seconds(h, t, s, p)))
    if wanted("ui"):  # last: it leaves 10,000 inserted jobs and models in the store
        last.append(("ui_page_ms", lambda t: ui.ui_page_ms(t, s, p)))
    if last:
        r.in_tier(1, {}, last)
    return r.all() if not only else [f for n in ORDER if (f := r.figures.get(n))]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, report."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (the test suite's run)")
    parser.add_argument("--rounds", type=int, help="measurements per figure (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs) afterwards")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(PHASE_STEPS),
        default=[],
        help="run this phase only (repeatable); the others' figures are left out",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = SMOKE if args.smoke else FULL
    if args.rounds:
        sizes = sizes.with_rounds(args.rounds)
    started = time.monotonic()
    only = frozenset(args.only)
    steps = [PHASE_STEPS[phase] for phase in PHASE_STEPS if not only or phase in only]
    total = sum(per_round * sizes.rounds + extra for per_round, extra in steps)
    progress = Progress(total=total, enabled=not args.no_progress)
    h = Harness(keep_data=args.keep)
    # SIGTERM unwinds like Ctrl-C (SystemExit), so the ``finally`` below stops the stack
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        progress.describe("starting Redis and MongoDB")
        h.start()
        figures = run(h, sizes, progress, only)
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
