"""How much work each figure does: the full run (``make bench``) and the smoke run (tests)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    """Counts, sizes and time limits of one benchmark run (every loop is bounded by these)."""

    rounds: int = 3  # each figure is measured this many times (service and baseline each)
    noop_calls: int = 40  # bare Celery round trips per round
    tiny_jobs: int = 20  # iris decision_tree jobs per round
    mlflow_runs: int = 10  # MLflow log_model calls per round (0: skip vs_mlflow)
    big_rows: int = 20_000
    big_features: int = 20
    big_trees: int = 100
    big_timeout: float = 120.0
    scale_jobs: int = 40
    scale_rows: int = 4_000
    scale_trees: int = 50
    submit_clients: int = 16
    submit_seconds: float = 10.0
    download_rows: int = 20_000
    download_trees: int = 40  # ~59 MB uncompressed (10 noisy classes: deep, wide trees)
    download_min_bytes: int = 50_000_000
    download_reads: int = 5  # downloads (and GridFS reads) per figure
    rss_after_jobs: int = 100
    # serving (bench/serving.py): one random forest on digits serves every figure
    serve_trees: int = 100
    serve_requests: int = 120  # sequential one-row requests per server (or engine) per round
    serve_load_requests: int = 240  # one-row requests per server per throughput round
    serve_clients: int = 8  # concurrent keep-alive connections of the throughput figure
    mlflow_serving: bool = True  # False: skip the two figures against MLflow's server
    cold_warm_requests: int = 20  # warm predicts whose median is subtracted from the cold one
    batch_rows: int = 200_000
    batch_timeout: float = 120.0
    # search_vs_sklearn (bench/search.py): a random search over random_forest on digits
    search_trials: int = 24  # candidates (trial jobs; RandomizedSearchCV's n_iter)
    search_trees: tuple[int, int] = (20, 250)  # n_estimators range, log-uniform integers
    search_timeout: float = 180.0  # a search not succeeded by then fails the figure
    # halving_speedup (bench/search.py): halving vs random over the same candidates
    halving_rows: int = 8000  # a synthetic classification dataset (20 features)
    halving_trials: int = 27  # candidates of both (a power of the factor 3: rungs 27, 9, 3, 1)
    halving_trees: tuple[int, int] = (10, 100)  # n_estimators range, log-uniform integers
    # ui_page_ms (bench/ui.py): the store the UI pages read
    ui_jobs: int = 10_000
    ui_models: int = 10_000  # model versions, over ui_model_names names
    ui_model_names: int = 100
    ui_requests: int = 20  # GETs per page per round
    # drift_check_seconds (bench/drift.py): logged rows against a synthetic training set
    drift_reference_rows: int = 20_000  # rows of the dataset (80 % train the model)
    drift_features: int = 20
    drift_rows: int = 100_000  # one-row prediction records in the log
    drift_requests: int = 5  # GETs per round
    # settings of the recovery tier: empty = the defaults the figure is about (smoke: short)
    recovery_env: tuple[tuple[str, str], ...] = ()
    budget_seconds: float = 780.0  # figures not started by then are skipped

    def with_rounds(self, rounds: int) -> Sizes:
        """The same sizes with another round count."""
        return replace(self, rounds=rounds)


FULL = Sizes()
SMOKE = Sizes(
    rounds=1,
    noop_calls=5,
    tiny_jobs=3,
    mlflow_runs=0,
    big_rows=600,
    big_features=5,
    big_trees=5,
    big_timeout=60.0,
    scale_jobs=4,
    scale_rows=300,
    scale_trees=5,
    submit_clients=4,
    submit_seconds=1.5,
    download_rows=600,
    download_trees=5,
    download_min_bytes=0,
    download_reads=1,
    rss_after_jobs=0,
    serve_requests=20,
    serve_load_requests=40,
    serve_clients=2,
    mlflow_serving=False,
    cold_warm_requests=5,
    batch_rows=2_000,
    batch_timeout=60.0,
    search_trials=6,
    search_trees=(5, 20),
    search_timeout=90.0,
    halving_rows=1500,
    halving_trials=9,
    halving_trees=(5, 20),
    ui_jobs=300,
    ui_models=300,
    ui_model_names=10,
    ui_requests=3,
    drift_reference_rows=2_000,
    drift_rows=2_000,
    drift_requests=2,
    recovery_env=(
        ("LEASE_SECONDS", "3"),
        ("HEARTBEAT_SECONDS", "0.5"),
        ("SUPERVISOR_INTERVAL_SECONDS", "1"),
    ),
    # every phase starts its own tiers (~10 s each on two shared cores): ~3-4 min in all
    budget_seconds=420.0,
)
