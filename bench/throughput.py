"""``submit_throughput``: sustained valid ``POST /api/v1/jobs`` per second, 16 clients, 10 s.

Run on a tier with no worker, so nothing competes with the API for the CPU; the
baseline is ``bench/minimal_app.py`` served the same way. After each window the
training queue is purged (``control.purge()``) and the bench's job documents deleted.
The load comes from ``wrk`` when installed (C, not the bottleneck), else from threads
with keep-alive ``requests`` sessions.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from app.tasks.celery_app import create_celery
from bench.baselines import MinimalApp, child_pids, rss_mib, tree_cpu_seconds
from bench.harness import BenchError, Harness, Tier
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

MODEL_NAME = "bench_submit"
BODY = {"dataset": "iris", "algorithm": "decision_tree", "model_name": MODEL_NAME}


def submit_throughput(h: Harness, tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: the API's valid submits/s, then the minimal app's, each followed by a purge."""
    fig = Figure("submit_throughput", "req/s", ">=", 0.7)
    api_url = tier.api_url + "/api/v1/jobs"
    generator = wrk_load if shutil.which("wrk") else thread_load

    def load(url: str, clients: int, seconds: float) -> float:
        # The admin key goes to both servers alike (the minimal app ignores it).
        return generator(url, clients, seconds, tier.headers)

    with MinimalApp(tier, h.log_dir) as minimal:
        minimal_url = minimal.url + "/jobs"
        for url in (api_url, minimal_url):  # warm-up: connections, imports, first requests
            load(url, sizes.submit_clients, min(1.0, sizes.submit_seconds))
        purged = purge(h, tier)
        cpu: dict[str, list[float]] = {"api": [], "minimal": []}
        servers = _server_pids(h, tier)
        for _ in range(sizes.rounds):
            for name, url, pid in (
                ("api", api_url, tier.api_pid()),
                ("minimal", minimal_url, minimal.pid),
            ):
                pids = {**servers, "app": [pid] if pid else []}
                before = {k: tree_cpu_seconds(v) for k, v in pids.items()}
                rate = load(url, sizes.submit_clients, sizes.submit_seconds)
                used = {k: tree_cpu_seconds(v) - before[k] for k, v in pids.items()}
                requests_done = rate * sizes.submit_seconds
                cpu[name].append({k: round(v / requests_done * 1000, 3) for k, v in used.items()})
                purged += purge(h, tier)
                if name == "api":
                    service = rate
            fig.add(service, rate)
            progress.step()
        fig.details["cpu_ms_per_request"] = cpu
        h.notes["minimal_app_rss_mib"] = [rss_mib(p) for p in child_pids(minimal.pid)]
    fig.details.update(
        clients=sizes.submit_clients,
        seconds=sizes.submit_seconds,
        load_generator=generator.__name__,
        messages_purged=purged,
    )
    return fig


def _server_pids(h: Harness, tier: Tier) -> dict[str, list[int]]:
    """The local Redis and MongoDB processes (empty when external)."""
    if h.infra is None:
        return {}
    return {name: [h.infra.children[name].pid] for name in ("mongo", "redis")}


def purge(h: Harness, tier: Tier, tries: int = 10) -> int:
    """Drop every queued training message and the bench's job documents; messages dropped.

    Requests still in flight when the load stopped may publish after a purge, so it is
    repeated until the queue stays empty for 0.2 s (at most ``tries`` times).
    """
    celery = create_celery(tier.settings)
    dropped = 0
    try:
        with celery.connection_for_read() as conn:
            queued = conn.default_channel.client.llen
            for _ in range(tries):
                dropped += celery.control.purge()
                time.sleep(0.2)
                if not queued(tier.settings.training_queue):
                    break
            else:
                raise BenchError(
                    f"{queued(tier.settings.training_queue)} messages still queued after purges"
                )
    finally:
        celery.close()
    h.mongo().jobs.delete_many({"model_name": MODEL_NAME})
    return dropped


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
"""


def wrk_load(
    url: str, clients: int, seconds: float, headers: dict[str, str] | None = None
) -> float:
    """Valid (2xx) requests per second that ``wrk`` sustained with ``clients`` connections.

    ``headers`` (the API key) go into wrk's Lua script, in a private temporary directory,
    not on its command line (``-H``), where every user could read them.
    """
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        lines = [WRK_SCRIPT.format(body=json.dumps(BODY))]
        lines += [
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items()
        ]
        script.write_text("".join(lines))
        argv = [
            "wrk",
            f"-t{min(2, clients)}",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not done:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    count, elapsed = int(done[1]), float(done[2]) / (1000 if done[3] == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    valid = count - (int(bad[1]) if bad else 0)
    if valid <= 0:
        raise BenchError(f"no valid request:\n{out}")
    return valid / elapsed


def thread_load(
    url: str, clients: int, seconds: float, headers: dict[str, str] | None = None
) -> float:
    """Valid (202) requests per second of ``clients`` threads with keep-alive sessions."""
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds

    def client(i: int) -> None:
        with requests.Session() as session:
            session.headers.update(headers or {})
            while time.perf_counter() < stop_at:
                if session.post(url, json=BODY, timeout=10).status_code == 202:
                    counts[i] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    return sum(counts) / (time.perf_counter() - start)
