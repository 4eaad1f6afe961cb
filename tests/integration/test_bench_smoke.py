"""``python -m bench --smoke``: every benchmark runs end to end at tiny sizes (~4 min).

It starts its own Redis, MongoDB and app tiers on free ports, like ``make bench``, so the
benchmark code cannot rot unnoticed. No figure's goal is checked (tiny sizes say nothing
about performance); MLflow is not needed (vs_mlflow and the two figures against MLflow's
scoring server are skipped in smoke mode), nor tqdm or wrk (a thread load generator
replaces wrk when it is absent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
FIGURES = {
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
}
SKIPPED = {"vs_mlflow", "predict_p50_vs_mlflow", "predict_throughput_vs_mlflow"}  # need MLflow
KEYS = {"name", "value", "unit", "baseline", "ratio", "goal", "ok"}


def test_bench_smoke_measures_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MONGODB_URL", "API_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--no-progress", "--out", str(out)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {entry["name"] for entry in results} == FIGURES
    for entry in results:
        assert entry.keys() >= KEYS, entry
        assert entry["error"] is None, entry
        if entry["name"] in SKIPPED:
            assert entry["skipped"] and entry["ok"] is None
            continue
        assert entry["value"] > 0 and entry["baseline"] > 0 and entry["ratio"] > 0, entry
        assert isinstance(entry["ok"], bool), entry
    assert "ratio" in done.stdout and "submit_throughput" in done.stdout  # the table
