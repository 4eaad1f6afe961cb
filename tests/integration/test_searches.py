"""Hyperparameter searches over HTTP on the local stack: every strategy, cancel, bad spaces.

(A worker killed mid-search is in the fault matrix, ``test_faults.py``.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from localstack import LocalStack
from tests.integration.helpers import api_client, assert_error, poll, unique

SEARCH_TIMEOUT = 120


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[Any]:
    with api_client(stack) as client:
        yield client


def start(api: Any, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/searches", json=body)
    assert response.status_code == 202, response.text
    search = response.json()
    assert response.headers["Location"].endswith(f"/api/v1/searches/{search['search_id']}")
    return search


def wait_search(api: Any, search_id: str, timeout: float = SEARCH_TIMEOUT) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        search = api.get(f"/api/v1/searches/{search_id}").json()
        return search if search["status"] != "running" else None

    return poll(ended, timeout, what=f"search {search_id} to end", interval=0.5)


def test_a_grid_search_fans_out_and_registers_the_best(api) -> None:
    name = unique("search-grid")
    search = start(
        api, dataset="wine", algorithm="knn", model_name=name, strategy="grid",
        space={"n_neighbors": [1, 3, 7, 15], "weights": ["uniform", "distance"]},
        metric="f1_macro", cv=3, budget={"trials": 8, "parallelism": 4}, promote="challenger",
    )  # fmt: skip
    progress = search["progress"]
    assert progress["total"] == 8 and 1 <= progress["queued"] + progress["running"] <= 4
    done = wait_search(api, search["search_id"])
    assert done["status"] == "succeeded", done
    assert done["progress"]["succeeded"] == 8 and done["finished_at"]
    board = done["leaderboard"]
    assert len(board) == 8 and [t["score"] for t in board] == sorted(
        (t["score"] for t in board), reverse=True
    )
    workers = {t["worker"] for t in board}
    assert len(workers) == 2, workers  # spread over both workers of the stack
    best = done["best"]
    assert best["score"] == board[0]["score"] and best["version"] == 1
    model = api.get(f"/api/v1/models/{name}@challenger").json()
    assert model["model_id"] == best["model_id"]
    assert api.get("/api/v1/models", params={"name": name}).json()["total"] == 1
    jobs = api.get("/api/v1/jobs", params={"search_id": search["search_id"], "limit": 100})
    kinds = sorted(j["kind"] for j in jobs.json()["items"])
    assert kinds == ["train"] + ["trial"] * 8  # the trials and the refit
    trials = api.get(f"/api/v1/searches/{search['search_id']}/trials",
                     params={"sort": "trial", "limit": 3}).json()  # fmt: skip
    assert trials["total"] == 8 and [t["trial"] for t in trials["items"]] == [0, 1, 2]
    assert all(len(t["fold_scores"]) == 3 and t["fit_time"] > 0 for t in trials["items"])


def test_a_random_search_is_reproducible(api) -> None:
    body = {
        "dataset": "iris", "algorithm": "random_forest", "strategy": "random",
        "space": {"n_estimators": {"low": 5, "high": 60, "log": True, "type": "int"},
                  "max_depth": [2, 4, None], "criterion": ["gini", "entropy"]},
        "cv": 0, "budget": {"trials": 5, "parallelism": 5}, "random_state": 7,
    }  # fmt: skip
    first = start(api, model_name=unique("search-random"), **body)
    second = start(api, model_name=unique("search-random"), **body)
    a, b = wait_search(api, first["search_id"]), wait_search(api, second["search_id"])
    assert a["status"] == b["status"] == "succeeded", (a, b)

    def params(search):
        page = api.get(f"/api/v1/searches/{search['search_id']}/trials",
                       params={"sort": "trial"}).json()  # fmt: skip
        return [t["params"] for t in page["items"]]

    assert params(a) == params(b) and len(params(a)) == 5
    assert all(5 <= p["n_estimators"] <= 60 for p in params(a))
    listed = api.get("/api/v1/searches", params={"strategy": "random", "limit": 100}).json()
    assert {first["search_id"], second["search_id"]} <= {s["search_id"] for s in listed["items"]}


def test_a_halving_search_gives_the_best_of_each_rung_more_rows(api) -> None:
    name = unique("search-halving")
    search = start(
        api, dataset="wine", algorithm="random_forest", model_name=name, strategy="halving",
        space={"n_estimators": {"low": 5, "high": 80, "log": True, "type": "int"},
               "max_depth": [2, 4, None]},
        cv=3, budget={"trials": 9, "parallelism": 4}, promote="challenger",
    )  # fmt: skip
    # wine: 178 rows, 142 training rows; 9 candidates, factor 3: 9 on 47 rows, 3 on all 142
    assert search["rungs"] == [{"size": 9, "resources": 47}, {"size": 3, "resources": 142}]
    assert search["progress"]["total"] == 12
    done = wait_search(api, search["search_id"])
    assert done["status"] == "succeeded", done
    trials = api.get(f"/api/v1/searches/{search['search_id']}/trials",
                     params={"sort": "trial", "limit": 20}).json()["items"]  # fmt: skip
    assert [t["rung"] for t in trials] == [0] * 9 + [1] * 3
    assert {t["n_resources"] for t in trials[9:]} == {142}
    first = sorted(trials[:9], key=lambda t: t["score"], reverse=True)
    assert sorted(repr(t["params"]) for t in first[:3]) == sorted(
        repr(t["params"]) for t in trials[9:]
    )  # the second rung runs the first rung's best three
    assert done["best"]["rung"] == 1
    assert done["best"]["score"] == max(t["score"] for t in trials[9:])
    model = api.get(f"/api/v1/models/{name}@challenger").json()
    assert model["model_id"] == done["best"]["model_id"]
    assert model["search_id"] == search["search_id"]


def test_a_bayesian_search_runs_its_trials_on_the_fleet(api) -> None:
    name = unique("search-bayes")
    search = start(
        api, dataset="wine", algorithm="knn", model_name=name, strategy="bayesian",
        space={"n_neighbors": {"low": 1, "high": 40, "type": "int"},
               "weights": ["uniform", "distance"], "p": [1, 2]},
        cv=3, budget={"trials": 12, "parallelism": 3}, keep="all",
    )  # fmt: skip
    assert search["progress"]["total"] == 12 and search["progress"]["queued"] <= 3
    done = wait_search(api, search["search_id"])
    assert done["status"] == "succeeded", done
    trials = api.get(f"/api/v1/searches/{search['search_id']}/trials",
                     params={"limit": 20}).json()["items"]  # fmt: skip
    assert len(trials) == 12 and all(t["status"] == "succeeded" for t in trials)
    assert all(1 <= t["params"]["n_neighbors"] <= 40 for t in trials)
    assert len({t["worker"] for t in trials}) == 2
    # "keep": "all": every trial registered its model, and the best is one of them
    models = api.get("/api/v1/models", params={"name": name, "limit": 50}).json()
    assert models["total"] == 12 and done["refit_job_id"] is None
    assert done["best"]["model_id"] == trials[0]["model_id"]


def test_cancel_stops_a_running_search_and_keeps_what_finished(api) -> None:
    search = start(
        api, dataset="digits", algorithm="gradient_boosting", model_name=unique("search-cancel"),
        strategy="grid", space={"n_estimators": [40, 41, 42, 43, 44, 45]}, cv=2,
        budget={"trials": 6, "parallelism": 2},
    )  # fmt: skip
    poll(lambda: api.get(f"/api/v1/searches/{search['search_id']}").json()["progress"]["running"],
         60, what="a running trial")  # fmt: skip
    cancelled = api.post(f"/api/v1/searches/{search['search_id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"

    def settled():
        s = api.get(f"/api/v1/searches/{search['search_id']}").json()
        return s if s["progress"]["queued"] + s["progress"]["running"] == 0 else None

    after = poll(settled, 60, what="every trial ended")
    progress = after["progress"]
    assert after["status"] == "cancelled" and progress["cancelled"] >= 4
    assert progress["succeeded"] + progress["failed"] + progress["cancelled"] == 6
    launched = api.get("/api/v1/jobs", params={"search_id": search["search_id"]}).json()["total"]
    time.sleep(1.5)  # a trial ending after the cancel must not launch another
    assert api.get("/api/v1/jobs", params={"search_id": search["search_id"]}).json()["total"] == (
        launched
    )
    assert after["best"] is None or after["best"]["model_id"] is None
    assert_error(api.post(f"/api/v1/searches/{search['search_id']}/cancel"), 409)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"space": {"n_neighbors": [0, 3]}}, "space.n_neighbors"),
        ({"space": {"weights": {"low": 0, "high": 1}}}, "space.weights"),
        ({"space": {"n_neighbors": []}}, "space.n_neighbors"),
        (
            {"strategy": "grid", "space": {"n_neighbors": [1, 2, 3]}, "budget": {"trials": 2}},
            "budget.trials",
        ),
        ({"space": {"n_neighbors": [3]}, "metric": "rmse"}, "metric"),
        (
            {"space": {"n_neighbors": {"low": 1, "high": 10, "log": True, "type": "float"}}},
            "space.n_neighbors",
        ),
        (
            {
                "strategy": "halving",
                "space": {"n_neighbors": [3, 5]},
                "halving": {"min_resources": 9999},
            },
            "halving.min_resources",
        ),
        (
            {"strategy": "bayesian", "space": {"n_neighbors": {"low": -3, "high": 5}}},
            "space.n_neighbors",
        ),
    ],
    ids=[
        "constraint",
        "range-on-categorical",
        "empty",
        "grid-over-budget",
        "metric",
        "type",
        "halving-rows",
        "bayesian-range",
    ],
)
def test_a_bad_space_is_400_naming_the_field_and_stores_nothing(api, body, field) -> None:
    before = api.get("/api/v1/searches").json()["total"]
    jobs = api.get("/api/v1/jobs", params={"kind": "trial"}).json()["total"]
    response = api.post("/api/v1/searches", json={"dataset": "iris", "algorithm": "knn", **body})
    error = assert_error(response, 400)
    assert error["details"]["field"] == field, error
    time.sleep(0.2)
    assert api.get("/api/v1/searches").json()["total"] == before
    assert api.get("/api/v1/jobs", params={"kind": "trial"}).json()["total"] == jobs


def test_search_times_are_iso_8601(api) -> None:
    search = start(api, dataset="iris", algorithm="knn", model_name=unique("search-times"),
                   strategy="grid", space={"n_neighbors": [3]}, cv=2)  # fmt: skip
    done = wait_search(api, search["search_id"])
    for field in ("created_at", "started_at", "finished_at"):
        assert done[field].endswith("Z") and "T" in done[field], (field, done[field])
