"""Take docs/img/flower.png: Flower's task list with a few TensorFleet training jobs.

    sudo apt-get install -y chromium          # Debian; any Chromium/Chrome binary works
    .venv/bin/python scripts/screenshot_flower.py [--output docs/img/flower.png]

Starts its own local stack on free ports in a temporary directory (so a running
``make run`` is not disturbed), submits a handful of jobs (quick ones that succeed, one
cancelled while running, one left running), screenshots ``/tasks`` with headless
Chromium (basic auth in the URL) and stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from localstack import LocalStack, StackConfig, free_ports  # noqa: E402

SLOW = {
    "dataset": "digits",
    "algorithm": "gradient_boosting",
    "hyperparameters": {"n_estimators": 2000},
}
QUICK = [
    {"dataset": "iris", "algorithm": "random_forest", "model_name": "iris_rf"},
    {"dataset": "wine", "algorithm": "random_forest", "model_name": "wine_rf"},
    {
        "dataset": "breast_cancer",
        "algorithm": "logistic_regression",
        "model_name": "cancer_lr",
        "hyperparameters": {"max_iter": 5000},
    },
    {"dataset": "diabetes", "algorithm": "ridge", "model_name": "diabetes_ridge"},
    {"dataset": "iris", "algorithm": "knn", "model_name": "iris_knn"},
    {"dataset": "wine", "algorithm": "svm", "model_name": "wine_svm"},
]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # needed as root; harmless otherwise
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",  # let the page's XHR fill the task table
]
TIMEOUT = 120.0
HTTP = requests.Session()  # to the API; main() adds the stack's admin key to its headers


def say(message: str) -> None:
    print(f"[screenshot] {message}", file=sys.stderr, flush=True)


def submit(api: str, body: dict[str, Any]) -> str:
    response = HTTP.post(api + "/api/v1/jobs", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["job_id"]


def wait_status(api: str, job_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        job = HTTP.get(f"{api}/api/v1/jobs/{job_id}", params={"wait": 2}, timeout=30).json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} stuck in {job['status']}")
        time.sleep(0.2)


def find_chromium(given: str | None) -> str:
    for name in [given, "chromium", "chromium-browser", "google-chrome"]:
        if name and (path := shutil.which(name)):
            return path
    raise SystemExit("no Chromium found: apt-get install chromium (or pass --chromium)")


def screenshot(chromium: str, url: str, output: Path, size: str, workdir: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'chromium'}"]
    argv += [f"--screenshot={output}", f"--window-size={size}", url]
    output.unlink(missing_ok=True)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0 or not output.exists():
        raise SystemExit(f"chromium failed ({done.returncode}):\n{done.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=PROJECT_DIR / "docs/img/flower.png")
    parser.add_argument("--chromium", help="browser binary (default: chromium on PATH)")
    parser.add_argument("--window-size", default="1400,900")
    args = parser.parse_args()
    chromium = find_chromium(args.chromium)
    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="tensorfleet-screenshot-") as tmp:
        workdir = Path(tmp)
        redis_port, mongo_port, api_port, flower_port = free_ports(4)
        config = StackConfig(
            data_dir=workdir / "data",
            api_port=api_port,
            flower_port=flower_port,
            redis_port=redis_port,
            mongo_port=mongo_port,
            metrics_port=free_ports(2, consecutive=True)[0],
            workers=2,
            mongodb_db="tensorfleet_screenshot",
            flower_auth=f"admin:{password}",
            redis_appendonly=False,
        )
        say(f"starting a local stack in {workdir}")
        with LocalStack(config) as stack:
            api = stack.api_url
            HTTP.headers["Authorization"] = f"Bearer {stack.admin_key}"
            running = submit(api, {**SLOW, "model_name": "digits_gb"})
            wait_status(api, running, {"running"})
            for body in QUICK:
                wait_status(api, submit(api, body), {"succeeded", "failed", "cancelled"})
            cancelled = submit(api, {**SLOW, "model_name": "digits_gb_cancelled"})
            wait_status(api, cancelled, {"running"})
            HTTP.post(f"{api}/api/v1/jobs/{cancelled}/cancel", timeout=30).raise_for_status()
            wait_status(api, cancelled, {"cancelled"})
            time.sleep(1.0)  # Flower receives the last events
            host = stack.flower_url.removeprefix("http://")
            # Chromium takes no header flag: the throwaway stack's Flower password goes in
            # the URL (on Chromium's command line for a few seconds; loopback only).
            url = f"http://admin:{password}@{host}/tasks"
            say(f"screenshot of {stack.flower_url}/tasks -> {args.output}")
            screenshot(chromium, url, args.output, args.window_size, workdir)
            say("stopping the stack")
    print(os.path.relpath(args.output, Path.cwd()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
