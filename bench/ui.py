"""``ui_page_ms``: how long the web UI's pages take to render with 10,000 jobs and 10,000
model versions in the store.

Setup (untimed): one real training job and one real grid search through the API, then
``ui_jobs`` job documents and ``ui_models`` model versions inserted into MongoDB as copies
of the real ones (new ids, each model pointing at one seeded job; the models spread over
``ui_model_names`` names; statuses and scores varied), so every page reads a store of that
size through its real indexes. The bench then logs in through the login form (its CSRF
token included) like a browser and requests each page ``ui_requests`` times over one
keep-alive connection.

- value: the slowest page's median server time in ms: the ``Server-Timing`` header the UI
  sets (``app;dur=``, measured inside the API process), or the client's wall time where a
  response carries none.
- baseline: the median wall time of ``GET /api/v1/jobs?limit=50`` (the JSON list of the
  same store), for reference.

Every page must answer 200 or the figure fails; ``details.pages`` has each page's median,
p90 and bytes. Runs last: the inserted documents stay in the store.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import requests
from bson import ObjectId

from bench.harness import Api, BenchError, Tier
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

STATUSES = ("succeeded", "succeeded", "succeeded", "failed", "cancelled", "queued", "running")
BATCH = 1000  # documents per insert_many
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_TIMING = re.compile(r"dur=([0-9.]+)")


def ui_page_ms(tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Seed the store, log in, time every page."""
    fig = Figure("ui_page_ms", "ms", "<=", 200.0, goal_on="value")
    with Api(tier) as api:
        job_id, model_id = _train_one(api)
        search_id = _search_one(api)
        seeded = _seed(tier, job_id, model_id, sizes)
        browser = _log_in(tier)
        models = seeded["model_ids"]
        pages = {
            "jobs": "/ui/",
            "jobs_failed": "/ui/?status=failed",
            "job": f"/ui/jobs/{seeded['job_ids'][len(seeded['job_ids']) // 2]}",
            "models": "/ui/models",
            "models_by_score": "/ui/models?sort=-score",
            "model": f"/ui/models/{models[len(models) // 2]}",
            "compare": "/ui/compare?ids=" + ",".join(models[:5]),
            "datasets": "/ui/datasets",
            "dataset": "/ui/datasets/iris",
            "searches": "/ui/searches",
            "search": f"/ui/searches/{search_id}",
        }
        for _ in range(sizes.rounds):
            timings = {name: _time_page(browser, tier.api_url + path, sizes.ui_requests)
                       for name, path in pages.items()}  # fmt: skip
            api_ms = _time_page(api.session, f"{api.base}/jobs?limit=50", sizes.ui_requests)
            slowest = max(timings, key=lambda name: timings[name]["median_ms"])
            fig.add(timings[slowest]["median_ms"], api_ms["wall_median_ms"])
            progress.step()
        fig.details = {
            "slowest_page": slowest,
            "pages": {name: {**t, "path": pages[name]} for name, t in timings.items()},
            "store": {"jobs": seeded["jobs"], "model_versions": seeded["models"]},
            "requests_per_page": sizes.ui_requests,
            "value_is": "the slowest page's median Server-Timing (app;dur, inside the API"
            " process; client wall time where absent)",
            "baseline_is": "median wall time of GET /api/v1/jobs?limit=50 on the same store",
        }
        browser.close()
    return fig


def _train_one(api: Api) -> tuple[str, str]:
    body = {"dataset": "iris", "algorithm": "random_forest", "model_name": "bench_ui",
            "hyperparameters": {"n_estimators": 10}}  # fmt: skip
    _, job = api.run_job(body, 120)
    return job["job_id"], job["result"]["model_id"]


def _search_one(api: Api) -> str:
    body = {"dataset": "iris", "algorithm": "knn", "model_name": "bench_ui_search",
            "strategy": "grid", "space": {"n_neighbors": [1, 5, 9]}, "cv": 3}  # fmt: skip
    response = api.session.post(f"{api.base}/searches", json=body, timeout=30)
    if response.status_code != 202:
        raise BenchError(f"search submit answered {response.status_code}: {response.text[:300]}")
    search_id = response.json()["search_id"]
    deadline = time.monotonic() + 120
    while (
        api.session.get(f"{api.base}/searches/{search_id}", timeout=30).json()["status"]
        == "running"
    ):
        if time.monotonic() > deadline:
            raise BenchError(f"search {search_id} still running after 120 s")
        time.sleep(0.5)
    return search_id


def _seed(tier: Tier, job_id: str, model_id: str, sizes: Sizes) -> dict[str, Any]:
    """Copies of the real job and model documents, ``ui_jobs`` and ``ui_models`` of them."""
    import pymongo

    client: pymongo.MongoClient = pymongo.MongoClient(tier.mongodb_url)
    try:
        db = client[tier.mongodb_db]
        job, model = db.jobs.find_one({"_id": job_id}), db.models.find_one({"_id": model_id})
        if job is None or model is None:
            raise BenchError("the trained job or model is not in MongoDB")
        job_ids: list[str] = []
        for start in range(0, sizes.ui_jobs, BATCH):
            docs = []
            for i in range(start, min(start + BATCH, sizes.ui_jobs)):
                doc = {**job, "_id": str(ObjectId()), "status": STATUSES[i % len(STATUSES)],
                       "model_name": f"bench_ui_{i % sizes.ui_model_names}"}  # fmt: skip
                docs.append(doc)
                job_ids.append(doc["_id"])
            db.jobs.insert_many(docs)
        model_ids: list[str] = []
        for start in range(0, sizes.ui_models, BATCH):
            docs = []
            for i in range(start, min(start + BATCH, sizes.ui_models)):
                # job_id is unique per model: each copy points at one of the seeded jobs
                made_by = job_ids[i] if i < len(job_ids) else str(ObjectId())
                doc = {**model, "_id": str(ObjectId()), "job_id": made_by,
                       "name": f"bench_ui_{i % sizes.ui_model_names}",
                       "version": 1 + i // sizes.ui_model_names,
                       "score": round(0.8 + 0.2 * ((i * 7919) % 1000) / 1000, 4)}  # fmt: skip
                docs.append(doc)
                model_ids.append(doc["_id"])
            db.models.insert_many(docs)
        return {"jobs": db.jobs.count_documents({}), "models": db.models.count_documents({}),
                "job_ids": job_ids, "model_ids": model_ids}  # fmt: skip
    finally:
        client.close()


def _log_in(tier: Tier) -> requests.Session:
    """A session logged in through the form, as a browser would (cookie, CSRF token)."""
    browser = requests.Session()
    page = browser.get(f"{tier.api_url}/ui/login", timeout=30)
    token = _CSRF.search(page.text)
    if page.status_code != 200 or token is None:
        raise BenchError(f"no login form with a CSRF token at /ui/login ({page.status_code})")
    done = browser.post(
        f"{tier.api_url}/ui/login",
        data={"key": tier.admin_key or "", "csrf_token": token.group(1), "next": "/ui/"},
        timeout=30,
    )
    if done.status_code != 200 or "/ui/login" in done.url:
        raise BenchError(f"login failed: {done.status_code} at {done.url}")
    return browser


def _time_page(session: requests.Session, url: str, requests_: int) -> dict[str, Any]:
    """Median and p90 of the server time (Server-Timing, else wall) of ``requests_`` GETs."""
    server, wall, size = [], [], 0
    for _ in range(requests_):
        start = time.perf_counter()
        response = session.get(url, timeout=60)
        wall.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise BenchError(f"GET {url} answered {response.status_code}")
        timing = _TIMING.search(response.headers.get("Server-Timing", ""))
        server.append(float(timing.group(1)) if timing else wall[-1])
        size = len(response.content)
    ordered = sorted(server)
    return {
        "median_ms": round(statistics.median(server), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "wall_median_ms": round(statistics.median(wall), 2),
        "bytes": size,
    }
