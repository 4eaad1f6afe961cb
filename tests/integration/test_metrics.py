"""Prometheus metrics of the running stack: the API's ``/metrics`` and every worker's.

One module-scoped scenario drives the shared stack through every code path that moves a
metric (a model trained, a job failing on its data, running jobs cancelled, a job left
queued, a listing, a download) and scrapes before and after. Counters are checked by
their *delta*, since other tests use the same stack. Worker metrics are summed over all
workers (``stack.metrics_urls``), as Prometheus would.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.metrics import catalog
from app.tasks.celery_app import FleetQueues
from localstack import LocalStack
from tests.integration.helpers import (
    SLOW_JOB,
    Api,
    api_client,
    auth_headers,
    cancel,
    cancel_quietly,
    download,
    get_job,
    listen_addresses,
    models_of,
    poll,
    require_binary,
    submit,
    unique,
    wait_job,
)

FLEET_QUEUES = FleetQueues.of(Settings.model_construct()).all  # the default names

Labels = tuple[tuple[str, str], ...]
JOB_ENDPOINT = "/api/v1/jobs/<job_id>"
PARALLEL_GETS = 24  # requests spread over both gunicorn workers


# -- scraping ------------------------------------------------------------------------------


class Scrape:
    """One or more expositions parsed into samples; values of equal series are summed."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.texts = list(texts)
        self.types: dict[str, str] = {}
        self.samples: dict[tuple[str, Labels], float] = {}
        for text in self.texts:
            for family in text_string_to_metric_families(text):
                self.types[family.name] = family.type
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    self.samples[key] = self.samples.get(key, 0.0) + sample.value

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= set(ls))

    def series(self, name: str) -> list[dict[str, str]]:
        """Label sets of the samples called ``name``."""
        return [dict(ls) for (n, ls) in self.samples if n == name]

    def label_values(self) -> set[str]:
        """Every label value of every sample."""
        return {value for (_, ls) in self.samples for _, value in ls}


def fetch(url: str) -> str:
    """The exposition at ``url``."""
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    assert response.headers["Content-Type"].startswith("text/plain"), response.headers
    return response.text


def scrape_api(stack: LocalStack) -> Scrape:
    """The API's ``/metrics`` (all gunicorn workers plus the scrape-time gauges)."""
    return Scrape([fetch(stack.api_url + "/metrics")])


def scrape_workers(stack: LocalStack) -> Scrape:
    """Every worker's ``/metrics``, summed."""
    assert stack.metrics_urls, "the stack runs no worker"
    return Scrape(fetch(url) for url in stack.metrics_urls)


def api_process_counts(stack: LocalStack, endpoint: str) -> dict[str, float]:
    """``tensorfleet_api_requests_total`` of ``endpoint`` per gunicorn worker, read from each
    worker's own multiprocess file (the API's ``PROMETHEUS_MULTIPROC_DIR``)."""
    counts: dict[str, float] = {}
    for path in sorted((stack.data_dir / "prometheus").glob("counter_*.db")):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if (
                    sample.name == "tensorfleet_api_requests_total"
                    and sample.labels.get("endpoint") == endpoint
                ):
                    counts[path.stem] = counts.get(path.stem, 0.0) + sample.value
    return counts


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Scenario:
    """What was done to the stack and what the metrics said before, during and after."""

    api_before: Scrape
    workers_before: Scrape
    api_during: Scrape | None = None  # while a job of ours was queued behind busy workers
    statistics_during: dict[str, int] = field(default_factory=dict)
    queued_job: dict[str, Any] = field(default_factory=dict)
    succeeded: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, Any] = field(default_factory=dict)
    cancelled_running: list[str] = field(default_factory=list)
    submitted: dict[str, int] = field(default_factory=dict)  # algorithm -> jobs accepted
    job_ids: list[str] = field(default_factory=list)
    listings: int = 0
    downloads: int = 0
    predictions: int = 0
    api_after: Scrape | None = None
    workers_after: Scrape | None = None


def _submit(api: Api, scenario: Scenario, **body: Any) -> dict[str, Any]:
    job = submit(api, **body)
    scenario.job_ids.append(job["job_id"])
    scenario.submitted[body["algorithm"]] = scenario.submitted.get(body["algorithm"], 0) + 1
    return job


def _jobs_gauge_matches_statistics(api: Api, stack: LocalStack, scenario: Scenario) -> bool:
    """Scrape and read /statistics until both agree (a job may change state in between)."""
    statistics = api.get("/api/v1/statistics").json()["jobs"]["by_status"]
    scraped = scrape_api(stack)
    again = api.get("/api/v1/statistics").json()["jobs"]["by_status"]
    if statistics != again:
        return False
    scenario.api_during, scenario.statistics_during = scraped, statistics
    return all(scraped.value("tensorfleet_jobs", status=s) == n for s, n in statistics.items())


def _queue_behind_busy_workers(api: Api, stack: LocalStack, scenario: Scenario) -> None:
    """Occupy every worker with a slow job, queue one more, scrape, then cancel them all."""
    slow = [
        _submit(api, scenario, **SLOW_JOB, model_name=unique("metrics-slow"))
        for _ in stack.metrics_urls
    ]
    try:
        poll(
            lambda: all(get_job(api, j["job_id"])["status"] == "running" for j in slow),
            timeout=60,
            what="every worker busy with a slow job",
        )
        scenario.queued_job = _submit(api, scenario, dataset="iris", algorithm="knn")
        time.sleep(1.2)  # let it age, so the oldest-job gauge has something to show
        poll(
            lambda: _jobs_gauge_matches_statistics(api, stack, scenario),
            timeout=15,
            what="tensorfleet_jobs equal to /statistics",
        )
        # Cancel the queued job first, so it never reaches a worker freed below.
        assert cancel(api, scenario.queued_job["job_id"]).json()["status"] == "cancelled"
        for job in slow:
            response = cancel(api, job["job_id"])
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "running"
            scenario.cancelled_running.append(job["job_id"])
        for job in slow:
            assert wait_job(api, job["job_id"], timeout=30)["status"] == "cancelled"
    finally:
        cancel_quietly(api, [j["job_id"] for j in slow] + [scenario.queued_job.get("job_id", "")])


@pytest.fixture(scope="module")
def scenario(stack: LocalStack) -> Iterator[Scenario]:
    """Run the scenario once for this module."""
    with api_client(stack.api_url) as api:
        done = Scenario(scrape_api(stack), scrape_workers(stack))
        job = _submit(
            api, done, dataset="iris", algorithm="decision_tree", model_name=unique("m-tree")
        )
        done.succeeded = wait_job(api, job["job_id"])
        assert done.succeeded["status"] == "succeeded", done.succeeded
        # A real user error the API cannot see: 1% of iris is 2 rows, fewer than its 3
        # classes, so the stratified split fails in the worker (error type "data").
        job = _submit(api, done, dataset="iris", algorithm="logistic_regression", test_size=0.01)
        done.failed = wait_job(api, job["job_id"])
        assert done.failed["status"] == "failed", done.failed
        assert done.failed["error"]["type"] == "data", done.failed
        _queue_behind_busy_workers(api, stack, done)
        page = models_of(api, name=done.succeeded["model_name"])
        done.listings += 1
        assert page["items"], page
        response = download(api, page["items"][0]["model_id"])
        assert response.status_code == 200 and response.content
        done.downloads += 1
        features = page["items"][0]["features"]
        rows = {"dataframe_split": {"columns": features, "data": [[5.0] * len(features)]}}
        predicted = api.post(f"/api/v1/models/{page['items'][0]['model_id']}/predict", json=rows)
        assert predicted.status_code == 200, predicted.text
        done.predictions += 1
        done.api_after, done.workers_after = scrape_api(stack), scrape_workers(stack)
        yield done


# -- API metrics ---------------------------------------------------------------------------------


def delta(before: Scrape, after: Scrape | None, name: str, **labels: str) -> float:
    """How much a counter moved."""
    assert after is not None
    return after.value(name, **labels) - before.value(name, **labels)


def test_request_counter_and_histogram_use_the_url_rule(scenario: Scenario) -> None:
    before, after = scenario.api_before, scenario.api_after
    assert after is not None
    posted = sum(scenario.submitted.values())
    name = "tensorfleet_api_requests_total"
    assert delta(before, after, name, method="POST", endpoint="/api/v1/jobs", status="202") == (
        posted
    )
    assert delta(before, after, name, method="GET", endpoint=JOB_ENDPOINT, status="200") >= 3
    cancel_rule = JOB_ENDPOINT + "/cancel"
    cancels = delta(before, after, name, method="POST", endpoint=cancel_rule, status="202")
    assert cancels == 1 + len(scenario.cancelled_running)
    download_rule = "/api/v1/models/<ref>/download"
    assert delta(before, after, name, endpoint=download_rule, status="200") == scenario.downloads
    endpoints = {labels["endpoint"] for labels in after.series(name)}
    assert "/metrics" not in endpoints, "scrapes must not count themselves"
    assert all(e.startswith("/") or e == "unmatched" for e in endpoints), endpoints
    assert {labels["method"] for labels in after.series(name)} <= {
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
    }  # fmt: skip
    histogram = "tensorfleet_api_request_duration_seconds"
    assert after.types[histogram] == "histogram"
    count = delta(before, after, histogram + "_count", method="POST", endpoint="/api/v1/jobs")
    assert count == posted
    inf = delta(
        before, after, histogram + "_bucket", method="POST", endpoint="/api/v1/jobs", le="+Inf"
    )
    assert inf == count
    assert delta(before, after, histogram + "_sum", method="POST", endpoint="/api/v1/jobs") > 0


def test_no_label_carries_a_job_id(scenario: Scenario) -> None:
    assert scenario.api_after is not None and scenario.workers_after is not None
    values = scenario.api_after.label_values() | scenario.workers_after.label_values()
    for job_id in scenario.job_ids:
        assert not [v for v in values if job_id in v], f"job id {job_id} in a label"
    assert JOB_ENDPOINT in scenario.api_after.label_values()


def test_model_listing_download_and_submission_counters(scenario: Scenario) -> None:
    before, after = scenario.api_before, scenario.api_after
    assert delta(before, after, "tensorfleet_model_listings_total") == scenario.listings
    assert delta(before, after, "tensorfleet_model_downloads_total") == scenario.downloads
    for algorithm, count in scenario.submitted.items():
        moved = delta(before, after, "tensorfleet_jobs_submitted_total", algorithm=algorithm)
        assert moved == count, algorithm


def test_queue_gauges_while_a_job_waits_behind_busy_workers(scenario: Scenario) -> None:
    during = scenario.api_during
    assert during is not None
    assert during.types["tensorfleet_queue_depth"] == "gauge"
    assert [labels for labels in during.series("tensorfleet_queue_depth")] == [
        {"queue": queue} for queue in FLEET_QUEUES
    ]
    assert during.value("tensorfleet_queue_depth", queue="training") >= 1
    assert [labels for labels in during.series("tensorfleet_queue_work")] == [
        {"queue": queue} for queue in FLEET_QUEUES
    ]
    # the autoscaling signal: our queued job and the jobs the busy workers run
    work = during.value("tensorfleet_queue_work", queue="training")
    assert work >= 1 + len(scenario.cancelled_running), work
    created = datetime.fromisoformat(scenario.queued_job["created_at"].replace("Z", "+00:00"))
    ours = (datetime.now(UTC) - created).total_seconds()
    oldest = during.value("tensorfleet_queue_oldest_job_age_seconds", queue="training")
    assert oldest >= 1.0, "our job had been queued for over a second"
    assert oldest <= ours + 60 * 60, oldest  # an age in seconds, not a timestamp
    assert scenario.statistics_during["queued"] >= 1
    assert scenario.statistics_during["running"] >= len(scenario.cancelled_running)
    statuses = {labels["status"] for labels in during.series("tensorfleet_jobs")}
    assert statuses >= {"queued", "running", "succeeded", "failed", "cancelled"}


def test_request_counter_sums_both_gunicorn_workers(stack: LocalStack, scenario: Scenario) -> None:
    """Concurrent requests on fresh connections land on both gunicorn workers; /metrics
    counts every one of them whichever worker served it (and whichever serves the scrape)."""
    url = f"{stack.api_url}/api/v1/jobs/{scenario.succeeded['job_id']}"

    def get(_: int) -> int:
        headers = {"Connection": "close", **auth_headers(stack.admin_key)}
        response = requests.get(url, headers=headers, timeout=30)
        return response.status_code

    name, labels = "tensorfleet_api_requests_total", {"method": "GET", "endpoint": JOB_ENDPOINT}
    sent = 0
    start_files = api_process_counts(stack, JOB_ENDPOINT)
    before = scrape_api(stack).value(name, status="200", **labels)
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):  # bounded: until both workers have served some
            assert set(pool.map(get, range(PARALLEL_GETS))) == {200}
            sent += PARALLEL_GETS
            now = api_process_counts(stack, JOB_ENDPOINT)
            served = {f: n - start_files.get(f, 0) for f, n in now.items()}
            if sum(1 for n in served.values() if n > 0) >= 2:
                break
    assert sum(1 for n in served.values() if n > 0) >= 2, f"one worker served all: {served}"
    assert sum(served.values()) == sent
    for _ in range(4):  # each scrape may be served by either worker: all agree
        assert scrape_api(stack).value(name, status="200", **labels) - before == sent


# -- worker metrics ----------------------------------------------------------------------------


def test_worker_training_metrics(scenario: Scenario) -> None:
    before, after = scenario.workers_before, scenario.workers_after
    assert after is not None
    job = scenario.succeeded
    trained = "tensorfleet_worker_models_trained_total"
    assert delta(before, after, trained, algorithm="decision_tree") == 1
    histogram = "tensorfleet_worker_task_duration_seconds"
    assert after.types[histogram] == "histogram"
    ok = {"algorithm": "decision_tree", "outcome": "succeeded"}
    assert delta(before, after, histogram + "_count", **ok) == 1
    assert delta(before, after, histogram + "_bucket", le="+Inf", **ok) == 1
    assert delta(before, after, histogram + "_sum", **ok) > 0
    bad = {"algorithm": "logistic_regression", "outcome": "failed"}
    assert delta(before, after, histogram + "_count", **bad) == 1
    outcomes = {labels["outcome"] for labels in after.series(histogram + "_count")}
    assert outcomes <= {"succeeded", "failed", "cancelled", "other"}
    accuracy = after.series("tensorfleet_worker_model_accuracy")
    assert {"model_name": job["model_name"]} in accuracy
    score = after.value("tensorfleet_worker_model_accuracy", model_name=job["model_name"])
    assert score == pytest.approx(job["result"]["metrics"]["test_accuracy"])


def test_worker_failures_by_error_type(scenario: Scenario) -> None:
    before, after = scenario.workers_before, scenario.workers_after
    failed = "tensorfleet_worker_jobs_failed_total"
    assert delta(before, after, failed, error_type="data") == 1
    assert delta(before, after, failed, error_type="cancelled") == len(scenario.cancelled_running)


# -- the exposition as a whole -------------------------------------------------------------------


def test_exposed_families_are_the_ones_the_dashboard_tests_know(scenario: Scenario) -> None:
    assert scenario.api_after is not None and scenario.workers_after is not None
    exposed: dict[str, str] = {}
    for scrape in (scenario.api_after, scenario.workers_after):
        for family, kind in scrape.types.items():
            if family.startswith("tensorfleet_"):
                exposed[family + "_total" if kind == "counter" else family] = kind
    assert exposed == catalog()


def test_servers_listen_on_loopback_only(stack: LocalStack) -> None:
    for url in [stack.api_url, *stack.metrics_urls]:
        port = urlsplit(url).port
        assert port is not None
        assert listen_addresses(port) == {"127.0.0.1"}, url


def test_promtool_accepts_every_exposition(stack: LocalStack, scenario: Scenario) -> None:
    promtool = require_binary("promtool", "prometheus")
    for url in [stack.api_url + "/metrics", *stack.metrics_urls]:
        checked = subprocess.run(
            [promtool, "check", "metrics"],
            input=fetch(url),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        report = (checked.stdout + checked.stderr).strip()
        assert checked.returncode == 0 and not report, f"{url}: {report}"


def test_each_worker_serves_its_own_exposition(stack: LocalStack, scenario: Scenario) -> None:
    """Every worker (each ran a slow job of the scenario) serves its own samples."""
    for url in stack.metrics_urls:
        text = fetch(url)
        assert re.search(r"^# TYPE tensorfleet_worker_\w+ ", text, re.M), url
