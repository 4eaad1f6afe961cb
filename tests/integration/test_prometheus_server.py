"""A real Prometheus server scrapes the local stack and runs the Grafana dashboard's queries.

The scrape config is deploy/prometheus/prometheus.yml with its DNS service discovery
(which only works inside the compose network) replaced by static targets on 127.0.0.1,
so the job names, relabelling and metrics paths the dashboard relies on are the real ones.
Needs the ``prometheus`` binary (Debian package ``prometheus``); skipped without it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from localstack import LocalStack, free_ports
from localstack.config import PROJECT_DIR
from tests.integration.helpers import api_client, require_binary, submit, unique, wait_job

PROMETHEUS_CONFIG = PROJECT_DIR / "deploy/prometheus/prometheus.yml"
DASHBOARD = PROJECT_DIR / "deploy/grafana/dashboards/tensorfleet.json"
JOBS_TRAINED = 2
READY_TIMEOUT = 30.0
SCRAPE_TIMEOUT = 30.0  # targets up and our models counted
# Grafana's global variables, as Grafana would expand them for a short time range.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$__range_s": "3600",
}


def host_port(url: str) -> str:
    """``127.0.0.1:PORT`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def local_config(stack: LocalStack, own_port: int) -> dict[str, Any]:
    """The deployment's scrape config, pointed at the local stack with a 1 s interval."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    targets = {
        "tensorfleet-api": [host_port(stack.api_url)],
        "tensorfleet-worker": [host_port(url) for url in stack.metrics_urls],
        "prometheus": [f"127.0.0.1:{own_port}"],
    }
    names = {job["job_name"] for job in config["scrape_configs"]}
    assert names == {*targets, "tensorfleet-inference"}
    # the local stack serves predictions from its API: no separate inference service
    config["scrape_configs"] = [
        job for job in config["scrape_configs"] if job["job_name"] != "tensorfleet-inference"
    ]
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    return config


@pytest.fixture(scope="module")
def prometheus(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus server scraping ``stack``; yields its base URL. Stopped afterwards."""
    binary = require_binary("prometheus", "prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    port = free_ports(1)[0]
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(local_config(stack, port)), encoding="utf-8")
    promtool = shutil.which("promtool")
    if promtool:
        checked = subprocess.run(
            [promtool, "check", "config", str(config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(url):
            assert proc.poll() is None, f"prometheus exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, f"prometheus not ready: {log_path.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, f"prometheus did not stop cleanly: {log_path.read_text()}"


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/-/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def query(base_url: str, expr: str) -> dict[str, Any]:
    """``/api/v1/query`` of ``expr``; the whole JSON answer (errors included)."""
    response = requests.get(base_url + "/api/v1/query", params={"query": expr}, timeout=30)
    body = response.json()
    assert isinstance(body, dict), body
    return body


def scalar(body: dict[str, Any]) -> float | None:
    """The value of a one-element vector result, None if empty."""
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def trained(stack: LocalStack) -> int:
    """Train a few quick models; how many."""
    with api_client(stack.api_url) as api:
        jobs = [
            submit(api, dataset="iris", algorithm="decision_tree", model_name=unique("prom"))
            for _ in range(JOBS_TRAINED)
        ]
        for job in jobs:
            assert wait_job(api, job["job_id"])["status"] == "succeeded"
    return len(jobs)


def test_prometheus_scrapes_api_and_every_worker(
    stack: LocalStack, prometheus: str, trained: int
) -> None:
    wanted = {host_port(stack.api_url), *map(host_port, stack.metrics_urls)}
    deadline = time.monotonic() + SCRAPE_TIMEOUT
    while True:
        response = requests.get(prometheus + "/api/v1/targets", timeout=10).json()
        active = response["data"]["activeTargets"]
        health = {t["labels"]["instance"]: t["health"] for t in active}
        models = scalar(query(prometheus, "sum(tensorfleet_worker_models_trained_total)"))
        if all(health.get(t) == "up" for t in wanted) and (models or 0) >= trained:
            break
        assert time.monotonic() < deadline, f"targets {health}, models trained {models}"
        time.sleep(0.5)
    services = {t["labels"]["instance"]: t["labels"].get("service") for t in active}
    assert services[host_port(stack.api_url)] == "api"
    assert all(services[host_port(url)] == "worker" for url in stack.metrics_urls)
    assert scalar(query(prometheus, 'sum(up{job="tensorfleet-worker"})')) == len(wanted) - 1
    jobs = query(prometheus, "tensorfleet_jobs")["data"]["result"]
    assert {series["metric"]["job"] for series in jobs} == {"tensorfleet-api"}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, rows' nested panels included."""
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((panel.get("title", "?"), target["expr"]))
            walk(panel.get("panels", []))

    walk(json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"])
    return found


def expand(expr: str) -> str:
    """``expr`` with Grafana's variables replaced as Grafana would."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def test_every_dashboard_query_runs(stack: LocalStack, prometheus: str, trained: int) -> None:
    queries = dashboard_queries()
    assert queries, "the dashboard has no queries"
    # Wait until our models are in (the previous test usually did already).
    deadline = time.monotonic() + SCRAPE_TIMEOUT
    while (
        scalar(query(prometheus, "sum(tensorfleet_worker_models_trained_total)")) or 0
    ) < trained:
        assert time.monotonic() < deadline, "models trained never scraped"
        time.sleep(0.5)
    time.sleep(2.5)  # a few more scrapes, so rate() over them has two points at least
    failures = {}
    for title, expr in queries:
        body = query(prometheus, expand(expr))
        if body.get("status") != "success":
            failures[f"{title}: {expr}"] = body.get("error")
        elif "[" not in expr and not body["data"]["result"]:
            # No range selector: an instant gauge/up query; its series exist by now.
            failures[f"{title}: {expr}"] = "empty result"
    assert not failures, failures
    workers_up = [e for _, e in queries if re.search(r"\bup\{", e)]
    for expr in workers_up:
        assert scalar(query(prometheus, expand(expr))) == len(stack.metrics_urls), expr
