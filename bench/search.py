"""``search_vs_sklearn``: a random search on the fleet against ``RandomizedSearchCV`` in one
process, the same search on the same machine; ``halving_speedup``: a halving search on the
fleet against a random search on the fleet over the same candidates.

The search: ``random_forest`` on the built-in ``digits`` dataset (1,797 rows, 64 pixel
features, 10 classes), ``search_trials`` (24) candidates drawn from ``n_estimators``
log-uniform integers in ``search_trees`` (20..250) x ``max_depth`` in [5, 10, None],
``random_state`` 42, 5-fold cross-validation ranked by accuracy, ``parallelism`` = the
tier's 2 workers. TensorFleet scores each trial on the training split (stratified hold-out,
test_size 0.2) with ``StratifiedKFold(5, shuffle=True, random_state=42)`` and then refits
the best as a training job that registers a model; the search succeeds when that job ends.

- value: the search's own ``finished_at - created_at`` (set by the API when
  ``POST /api/v1/searches`` is accepted, and by MongoDB's ``$currentDate`` when the worker
  that saw the refit end ends the search), i.e. submission to the registered best model,
  without the client's polling interval; ``details.client_wall_s`` has POST to
  ``succeeded`` seen by the client.
- baseline: ``RandomizedSearchCV(n_jobs=2, refit=True).fit`` in this process on the same
  training rows, pipeline, folds and distributions (``bench.baselines.SklearnSearch``), its
  worker pool started beforehand (untimed), as the fleet's workers are; it runs once the
  ONNX copy of the refit model (which a worker makes after the refit job, so after the
  search ended) is no longer pending, so that export overlaps neither side.

Both searches must have tried the same candidates (the trials' params against
``cv_results_["params"]``) or the figure fails; the best scores, their params, whether
they match and the largest difference between any fold score of the two are in
``details``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from datetime import datetime
from typing import Any

from app.ml.registry import get_algorithm
from app.ml.search_space import candidates, parse_space
from app.ml.tabular import read_csv
from bench.baselines import SklearnSearch
from bench.harness import Api, BenchError, Tier, project_dir, synthetic_csv
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

DATASET = "digits"
ALGORITHM = "random_forest"
MODEL_NAME = "bench_search"
METRIC, SCORER = "test_accuracy", "accuracy"
CV, TEST_SIZE, RANDOM_STATE = 5, 0.2, 42
MAX_DEPTHS = [5, 10, None]
# GET /searches/<id> has no long poll: polled every second (each GET costs the API and
# MongoDB CPU the trials would use) until the refit job exists, whose end is long-polled
# (GET /jobs/<id>?wait=); then polled briefly until the search ends
POLL_SECONDS, END_POLL_SECONDS = 1.0, 0.02
SCORE_TOLERANCE = 1e-6  # the fleet rounds fold scores and their mean to 6 decimals
WARM_GRID = {"n_estimators": [1], "max_depth": [1, 2, 3, 4]}  # the baseline's pool warm-up


def search_space(sizes: Sizes) -> dict[str, Any]:
    """The ``space`` of the search request."""
    low, high = sizes.search_trees
    return {
        "n_estimators": {"low": low, "high": high, "log": True, "type": "int"},
        "max_depth": list(MAX_DEPTHS),
    }


def search_vs_sklearn(tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: the fleet's search (created_at → finished_at), then RandomizedSearchCV."""
    if tier.workers < 2:
        raise BenchError("search_vs_sklearn needs a tier of 2 workers")
    fig = Figure("search_vs_sklearn", "s", "<=", 1.2)
    space, trials, parallelism = search_space(sizes), sizes.search_trials, tier.workers
    body = {
        "dataset": DATASET,
        "algorithm": ALGORITHM,
        "model_name": MODEL_NAME,
        "strategy": "random",
        "space": space,
        "cv": CV,
        "budget": {"trials": trials, "parallelism": parallelism},
        "random_state": RANDOM_STATE,
        "test_size": TEST_SIZE,
        "metric": METRIC,
    }
    csv = (project_dir() / "datasets" / f"{DATASET}.csv").read_bytes()
    algorithm = get_algorithm(ALGORITHM)
    rounds: list[dict[str, Any]] = []
    with Api(tier) as api:
        dataset = api.session.get(f"{api.base}/datasets/{DATASET}", timeout=30).json()
        if dataset.get("sha256") != hashlib.sha256(csv).hexdigest():
            raise BenchError(f"the API's {DATASET} dataset is not datasets/{DATASET}.csv")
        task = dataset["task"]
        drawn = candidates("random", parse_space(algorithm, task, space, {}), trials, RANDOM_STATE)
        if len({repr(sorted(c.items())) for c in drawn}) != trials:
            raise BenchError(f"the space yields fewer than {trials} distinct candidates")
        baseline = SklearnSearch(
            read_csv(csv),
            target=dataset["target"],
            task=task,
            algorithm=algorithm,
            space=space,
            trials=trials,
            cv=CV,
            scorer=SCORER,
            random_state=RANDOM_STATE,
            test_size=TEST_SIZE,
            n_jobs=parallelism,
        )
        start = time.perf_counter()
        api.warm_workers(DATASET)  # each worker's frame cache holds the parsed CSV
        warmup_s = time.perf_counter() - start
        baseline_warmup_s = baseline.warm(WARM_GRID)
        for _ in range(sizes.rounds):
            fleet = run_search(api, body, sizes.search_timeout)
            # the refit's ONNX copy is made after the search ended: not during the baseline
            export = wait_for_export(api, fleet["search"]["model_id"], sizes.search_timeout)
            seconds, sk = baseline.run()
            fig.add(fleet["seconds"], seconds)
            rounds.append({**compare(fleet, sk, drawn, seconds), "onnx_export": export})
            progress.step()
    last = rounds[-1]
    fig.details = {
        "tensorfleet_best": last["tensorfleet_best"],
        "sklearn_best": last["sklearn_best"],
        "best_score_match": all(r["best_score_match"] for r in rounds),
        "best_params_match": all(r["best_params_match"] for r in rounds),
        "fold_scores_max_abs_diff": max(r["fold_scores_max_abs_diff"] for r in rounds),
        "rounds": rounds,
        "search": {k: body[k] for k in ("dataset", "algorithm", "space", "cv", "budget")},
        "train_rows": len(baseline.y),
        "workers": tier.workers,
        "warmup_s": round(warmup_s, 3),
        "baseline_warmup_s": round(baseline_warmup_s, 3),
        "fleet_is": "finished_at - created_at of the search document: from POST"
        " /api/v1/searches accepted (created_at, the API process's clock) to the search ended"
        " once the refit job registered the best model (finished_at, MongoDB's $currentDate;"
        " same machine); client_wall_s: POST to status succeeded seen by the client (the search"
        f" polled every {POLL_SECONDS:g} s until its refit job exists, that job long-polled,"
        " then the search polled until it ends)",
        "baseline_is": f"RandomizedSearchCV(n_iter={trials}, n_jobs={parallelism}, refit=True,"
        f" random_state={RANDOM_STATE}, cv=StratifiedKFold({CV}, shuffle=True,"
        f" random_state={RANDOM_STATE})).fit in this process on the same training rows and"
        " pipeline, over the space's own distributions: the same candidates (checked, as is"
        " every fold score); its joblib worker pool started beforehand, and run once the"
        " fleet's ONNX export of the refit model (queued when the refit job ends) has ended:"
        " both untimed",
    }
    return fig


def run_search(api: Api, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Submit a search, poll it until it ends; its timings, best, trials and refit job."""
    start = time.perf_counter()
    response = api.session.post(f"{api.base}/searches", json=body, timeout=30)
    if response.status_code != 202:
        raise BenchError(f"search submit answered {response.status_code}: {response.text[:300]}")
    search_id = response.json()["search_id"]
    url = f"{api.base}/searches/{search_id}"
    refit_ended = False
    while True:
        response = api.session.get(url, timeout=30)
        response.raise_for_status()
        search = response.json()
        if search["status"] != "running":
            break
        left = timeout - (time.perf_counter() - start)
        if left <= 0:
            raise BenchError(f"search {search_id} still running after {timeout:g}s")
        if search.get("refit_job_id") and not refit_ended:
            api.wait(search["refit_job_id"], left)  # long poll; the search ends right after
            refit_ended = True
        else:
            time.sleep(END_POLL_SECONDS if refit_ended else POLL_SECONDS)
    client_wall = time.perf_counter() - start
    if search["status"] != "succeeded":
        raise BenchError(f"search {search_id} {search['status']}: {search.get('error')}")
    page = api.session.get(
        f"{url}/trials", params={"sort": "trial", "limit": 100}, timeout=30
    ).json()
    if page["total"] != len(page["items"]):
        raise BenchError(f"{page['total']} trials, {len(page['items'])} listed")
    refit = api.session.get(f"{api.base}/jobs/{search['refit_job_id']}", timeout=30).json()
    api.tier.jobs_run += len(page["items"]) + 1
    return {
        "search": search,
        "trials": page["items"],
        "refit": refit,
        "seconds": _seconds_between(search["created_at"], search["finished_at"]),
        "client_wall_s": client_wall,
    }


def wait_for_export(api: Api, model_id: str, timeout: float) -> dict[str, Any]:
    """Wait until the model's ONNX copy is no longer pending; its status and the seconds
    waited."""
    start = time.perf_counter()
    model = api.wait_for_export(model_id, timeout)
    onnx = (model.get("formats") or {}).get("onnx") or {}
    return {
        "status": onnx.get("status"),
        "waited_s": round(time.perf_counter() - start, 3),
        "model_bytes": model.get("size_bytes"),
        "onnx_bytes": onnx.get("size_bytes"),
    }


def compare(
    fleet: dict[str, Any], sk: Any, drawn: list[dict[str, Any]], sk_seconds: float
) -> dict[str, Any]:
    """One round's facts: both bests, whether they match, the fleet's timings; BenchError
    if the two searches did not try the same candidates."""
    search, trials, refit = fleet["search"], fleet["trials"], fleet["refit"]
    sk_params = [_unprefixed(p) for p in sk.cv_results_["params"]]
    fleet_params = [t["params"] for t in trials]
    if not (fleet_params == sk_params == drawn):
        raise BenchError("the fleet and RandomizedSearchCV did not try the same candidates")
    if any(t["status"] != "succeeded" for t in trials):
        raise BenchError(f"not every trial succeeded: {[t['status'] for t in trials]}")
    splits = sk.n_splits_
    diffs = [
        abs(t["fold_scores"][k] - float(sk.cv_results_[f"split{k}_test_score"][i]))
        for i, t in enumerate(trials)
        for k in range(splits)
    ]
    best = search["best"]
    sk_best = {
        "trial": int(sk.best_index_),
        "params": _unprefixed(sk.best_params_),
        "score": round(float(sk.best_score_), 9),
    }
    fit_times = sk.cv_results_["mean_fit_time"] * splits
    return {
        "value_s": round(fleet["seconds"], 3),
        "baseline_s": round(sk_seconds, 3),
        "client_wall_s": round(fleet["client_wall_s"], 3),
        "tensorfleet_best": {k: best.get(k) for k in ("trial", "params", "score", "score_std")},
        "sklearn_best": sk_best,
        "best_score_match": math.isclose(best["score"], sk_best["score"], abs_tol=SCORE_TOLERANCE),
        "best_params_match": best["params"] == sk_best["params"],
        "fold_scores_max_abs_diff": float(f"{max(diffs):.3g}"),
        # where the fleet's time went: the trials (until the refit job was created), the refit
        "trials_s": round(_seconds_between(search["created_at"], refit["created_at"]), 3),
        "refit_s": round(_seconds_between(refit["created_at"], search["finished_at"]), 3),
        "refit_fit_s": ((refit.get("result") or {}).get("metrics") or {}).get("training_time"),
        "sklearn_refit_s": round(float(sk.refit_time_), 3),
        "fit_seconds_summed": {
            "tensorfleet": round(sum(t["fit_time"] for t in trials), 3),
            "sklearn": round(float(fit_times.sum()), 3),
        },
        "trials_per_worker": sorted(Counter(t.get("worker") for t in trials).values()),
    }


def _unprefixed(params: dict[str, Any]) -> dict[str, Any]:
    """``model__n_estimators`` → ``n_estimators`` (numpy scalars as Python ones), sorted."""
    out = {}
    for name, value in params.items():
        out[name.removeprefix("model__")] = value.item() if hasattr(value, "item") else value
    return dict(sorted(out.items()))


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


HALVING_DATASET = "bench_halving"
HALVING_FEATURES = 20
# gradient boosting: its fit time grows with the rows (a random forest's, at a few hundred
# rows, is mostly per-tree overhead: the same search over random_forest measured 1.6x)
HALVING_ALGORITHM = "gradient_boosting"
HALVING_DEPTHS = [2, 3, 4, 6]
SCORE_POINTS = 0.5  # the halving search's best within half a point (accuracy x 100) of random's


def halving_speedup(tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: a random search, then a halving search over the same candidates (the
    first rung is drawn as the random search draws, from the same ``random_state``); the
    value is the random search's seconds over the halving search's (created_at →
    finished_at of each, both ending with their best model registered), as speeds: the
    figure's value is the halving search's searches per hour, its baseline the random
    search's, so their ratio is the speedup."""
    # speeds, so that the ratio is the speedup: searches per hour of each strategy
    fig = Figure("halving_speedup", "searches/h", ">=", 3.0)
    csv = synthetic_csv(sizes.halving_rows, HALVING_FEATURES, classes=2, flip_y=0.02, seed=11)
    low, high = sizes.halving_trees
    body = {
        "dataset": HALVING_DATASET,
        "algorithm": HALVING_ALGORITHM,
        "model_name": MODEL_NAME,
        "space": {
            "n_estimators": {"low": low, "high": high, "log": True, "type": "int"},
            "max_depth": list(HALVING_DEPTHS),
        },
        "cv": CV,
        "budget": {"trials": sizes.halving_trials, "parallelism": tier.workers},
        "random_state": RANDOM_STATE,
        "test_size": TEST_SIZE,
        "metric": METRIC,
    }
    rounds: list[dict[str, Any]] = []
    with Api(tier) as api:
        api.ensure_dataset(HALVING_DATASET, csv, "label")
        api.warm_workers(HALVING_DATASET)
        for _ in range(sizes.rounds):
            plain = run_search(api, {**body, "strategy": "random"}, sizes.search_timeout)
            wait_for_export(api, plain["search"]["model_id"], sizes.search_timeout)
            halving = run_search(api, {**body, "strategy": "halving"}, sizes.search_timeout)
            wait_for_export(api, halving["search"]["model_id"], sizes.search_timeout)
            first_rung = [t["params"] for t in halving["trials"] if t["rung"] == 0]
            if first_rung != [t["params"] for t in plain["trials"]]:
                raise BenchError("the halving search's first rung is not the random search's")
            speedup = plain["seconds"] / halving["seconds"]
            fig.add(3600 / halving["seconds"], 3600 / plain["seconds"])
            rounds.append(_halving_round(plain, halving, speedup))
            progress.step()
    last = rounds[-1]
    fig.details = {
        "random_best": last["random_best"],
        "halving_best": last["halving_best"],
        "best_within_half_point": all(r["best_within_half_point"] for r in rounds),
        "rounds": rounds,
        "search": {k: body[k] for k in ("algorithm", "space", "cv", "budget")},
        "dataset": f"synthetic classification, {sizes.halving_rows} rows x"
        f" {HALVING_FEATURES} features, 2 classes ({HALVING_DATASET})",
        "value_is": "3600 / the halving search's seconds (baseline: the random search's), each"
        " the search's own finished_at - created_at (POST accepted to the best model"
        " registered), so ratio = random seconds / halving seconds; both over"
        f" the same {sizes.halving_trials} candidates, the halving search with its defaults"
        " (factor 3, min_resources exhaust: the last rung sees every training row)",
    }
    return fig


def _halving_round(
    plain: dict[str, Any], halving: dict[str, Any], speedup: float
) -> dict[str, Any]:
    random_best, halving_best = plain["search"]["best"], halving["search"]["best"]
    rungs: Counter[int] = Counter(t["rung"] for t in halving["trials"])
    return {
        "speedup": round(speedup, 3),
        "random_s": round(plain["seconds"], 3),
        "halving_s": round(halving["seconds"], 3),
        "random_best": {k: random_best.get(k) for k in ("params", "score", "score_std")},
        "halving_best": {k: halving_best.get(k) for k in ("params", "score", "score_std", "rung")},
        "best_points_apart": round(100 * (random_best["score"] - halving_best["score"]), 3),
        # scores are rounded to 6 decimals: compare the points at that resolution
        "best_within_half_point": round(100 * abs(random_best["score"] - halving_best["score"]), 4)
        <= SCORE_POINTS,
        "rungs": halving["search"]["rungs"],
        "trials_per_rung": [rungs[r] for r in sorted(rungs)],
        "fit_seconds_summed": {
            "random": round(sum(t["fit_time"] for t in plain["trials"]), 3),
            "halving": round(sum(t["fit_time"] for t in halving["trials"]), 3),
        },
    }
