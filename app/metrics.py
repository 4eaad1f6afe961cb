"""The metric catalog: every Prometheus series TensorFleet exposes, defined once.

The API serves its own counters and the scrape-time fleet gauges at ``/metrics``
(``app.api.metrics``); each worker serves its counters on ``METRICS_PORT``
(``app.tasks.worker_metrics``). Both read the collectors below; tests, the
Grafana dashboard check and the docs take names from :func:`catalog`.

Processes that run several workers (gunicorn, Celery's pool) use
prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` must be set
before ``prometheus_client`` is first imported (the entry points do that, see
``app.config.Settings.prometheus_multiproc_dir``).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

# -- API process -------------------------------------------------------------------------
API_REQUESTS = Counter(
    "tensorfleet_api_requests_total", "HTTP requests served.", ["method", "endpoint", "status"]
)
API_REQUEST_DURATION = Histogram(
    "tensorfleet_api_request_duration_seconds", "Time to answer a request.", ["method", "endpoint"]
)
MODEL_DOWNLOADS = Counter("tensorfleet_model_downloads_total", "Model files downloaded.")
MODEL_LISTINGS = Counter("tensorfleet_model_listings_total", "Model list requests served.")
JOBS_SUBMITTED = Counter(
    "tensorfleet_jobs_submitted_total", "Training jobs accepted.", ["algorithm"]
)

INTEGRITY_FAILURES = Counter(
    "tensorfleet_integrity_failures_total",
    "Stored files that failed their signature check (the model or dataset is quarantined).",
    ["kind"],
)
for _kind in ("model", "dataset"):  # known label values start at 0, so rate() sees the first
    INTEGRITY_FAILURES.labels(_kind)

# -- serving (in the API and the inference service) --------------------------------------
PREDICTIONS = Counter(
    "tensorfleet_predictions_total",
    "Prediction requests answered, by model name and outcome (served, failed).",
    ["model_name", "outcome"],
)
PREDICT_DURATION = Histogram(
    "tensorfleet_predict_duration_seconds",
    "Time to answer a prediction request, by engine.",
    ["engine"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MODEL_CACHE_EVENTS = Counter(
    "tensorfleet_model_cache_events_total", "Model cache hits, misses and evictions.", ["event"]
)
MODEL_CACHE_BYTES = Gauge(
    "tensorfleet_model_cache_bytes",
    "Bytes of models held in this process's cache.",
    multiprocess_mode="livesum",
)
for _event in ("hit", "miss", "eviction"):
    MODEL_CACHE_EVENTS.labels(_event)
PREDICTION_LOG_RECORDS = Counter(
    "tensorfleet_prediction_log_records_total",
    "Prediction log records written, dropped (buffer full) or whose insert failed.",
    ["event"],
)
for _event in ("written", "dropped", "insert_failed"):
    PREDICTION_LOG_RECORDS.labels(_event)

# -- workers -----------------------------------------------------------------------------
TASK_DURATION = Histogram(
    "tensorfleet_worker_task_duration_seconds",
    "Wall time of a training task, by algorithm and outcome.",
    ["algorithm", "outcome"],
    buckets=DURATION_BUCKETS,
)
MODELS_TRAINED = Counter(
    "tensorfleet_worker_models_trained_total", "Models trained and stored.", ["algorithm"]
)
MODEL_SCORE = Gauge(
    "tensorfleet_worker_model_accuracy",
    "Headline score of the latest version of a model (test accuracy, or r2 for regression).",
    ["model_name"],
    multiprocess_mode="mostrecent",
)
JOBS_FAILED = Counter(
    "tensorfleet_worker_jobs_failed_total", "Jobs that ended failed or cancelled.", ["error_type"]
)


# -- gauges the API computes at scrape time ------------------------------------------------
@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge whose value is read from Redis or MongoDB when Prometheus scrapes."""

    name: str
    documentation: str
    labels: tuple[str, ...]

    def family(self) -> GaugeMetricFamily:
        """An empty sample family to fill in ``collect()``."""
        return GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))


QUEUE_DEPTH = ScrapeGauge("tensorfleet_queue_depth", "Messages waiting.", ("queue",))
QUEUE_OLDEST_AGE = ScrapeGauge(
    "tensorfleet_queue_oldest_job_age_seconds",
    "Age of the oldest job still queued (0 if none).",
    ("queue",),
)
JOBS_BY_STATUS = ScrapeGauge("tensorfleet_jobs", "Jobs by status.", ("status",))
QUEUE_WORK = ScrapeGauge(
    "tensorfleet_queue_work",
    "Jobs queued or running on the queue, from MongoDB: the autoscaling signal (a Redis list"
    " length sees neither running jobs nor Celery's priority sub-lists).",
    ("queue",),
)

_COLLECTORS = (
    API_REQUESTS,
    API_REQUEST_DURATION,
    MODEL_DOWNLOADS,
    MODEL_LISTINGS,
    JOBS_SUBMITTED,
    INTEGRITY_FAILURES,
    PREDICTIONS,
    PREDICT_DURATION,
    MODEL_CACHE_EVENTS,
    MODEL_CACHE_BYTES,
    PREDICTION_LOG_RECORDS,
    TASK_DURATION,
    MODELS_TRAINED,
    MODEL_SCORE,
    JOBS_FAILED,
)
_SCRAPE_GAUGES = (QUEUE_DEPTH, QUEUE_OLDEST_AGE, JOBS_BY_STATUS, QUEUE_WORK)


def series_name(collector: Counter | Gauge | Histogram) -> str:
    """The name Prometheus queries a collector by (counters with their ``_total``)."""
    family = next(iter(collector.describe()))
    return family.name + ("_total" if family.type == "counter" else "")


def catalog() -> dict[str, str]:
    """Every series name TensorFleet exposes → its type (``counter``, ``gauge``, ``histogram``).

    Counters are listed with their ``_total`` suffix, as Prometheus queries them.
    """
    names = {series_name(c): next(iter(c.describe())).type for c in _COLLECTORS}
    names.update({gauge.name: "gauge" for gauge in _SCRAPE_GAUGES})
    return names
