"""Hyperparameter searches through the API: validation, advancing, the best model, cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.services.searches import advance


@pytest.fixture
def drive(loaded_db, celery, redis, run_job) -> Callable[..., int]:
    """``drive(limit)``: run every published job in order, as workers would (advancing
    its search after each), until none is left or ``limit`` ran; how many ran."""
    done: set[str] = set()

    def run_all(limit: int = 1000) -> int:
        ran = 0
        while ran < limit:
            pending = [m["args"][0] for m in celery.sent if m["args"][0] not in done]
            if not pending:
                return ran
            job_id = pending[0]
            done.add(job_id)
            run_job(job_id)
            ran += 1
            job = loaded_db.jobs.find_one({"_id": job_id})
            if job.get("search_id"):
                advance(loaded_db, celery, redis, job["search_id"])
        return ran

    return run_all


KNN = {"dataset": "iris", "algorithm": "knn", "model_name": "iris_search"}


def _submit(client, **body: Any):
    return client.post("/api/v1/searches", json={**KNN, **body})


def test_a_grid_search_runs_every_combination_and_registers_the_best(client, drive) -> None:
    response = _submit(
        client, strategy="grid", space={"n_neighbors": [1, 5, 15], "weights": ["uniform"]},
        cv=3, budget={"trials": 10, "parallelism": 2}, metric="f1_macro", promote="challenger",
    )  # fmt: skip
    assert response.status_code == 202, response.json
    search = response.json
    assert response.headers["Location"] == f"/api/v1/searches/{search['search_id']}"
    assert search["progress"] == {
        "total": 3,
        "queued": 2,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
    }  # fmt: skip  (parallelism 2: two trials in flight)
    trials = client.get(f"/api/v1/jobs?search_id={search['search_id']}").json
    assert trials["total"] == 2 and {j["kind"] for j in trials["items"]} == {"trial"}
    assert drive() == 4  # three trials and the refit
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["status"] == "succeeded", done
    assert done["progress"]["succeeded"] == 3
    board = done["leaderboard"]
    assert [t["score"] for t in board] == sorted((t["score"] for t in board), reverse=True)
    assert all(len(t["fold_scores"]) == 3 and t["worker"] for t in board)
    best = done["best"]
    assert best["params"] == board[0]["params"] and best["score"] == board[0]["score"]
    model = client.get("/api/v1/models/iris_search@challenger").json
    assert (model["model_id"], model["version"]) == (best["model_id"], best["version"])
    assert model["hyperparameters"]["n_neighbors"] == best["params"]["n_neighbors"]
    assert client.get("/api/v1/models?name=iris_search").json["total"] == 1  # only the best


def test_a_random_search_is_reproducible_and_logs_sample_log_ranges(client, drive) -> None:
    space = {"n_neighbors": {"low": 1, "high": 60, "log": True, "type": "int"},
             "weights": ["uniform", "distance"]}  # fmt: skip
    first = _submit(client, space=space, budget={"trials": 6, "parallelism": 6}, cv=0).json
    second = _submit(client, space=space, budget={"trials": 6, "parallelism": 6}, cv=0).json

    def params(search):
        items = client.get(f"/api/v1/searches/{search['search_id']}/trials?sort=trial").json
        return [t["params"] for t in items["items"]]

    assert params(first) == params(second) and len(params(first)) == 6
    assert all(1 <= p["n_neighbors"] <= 60 for p in params(first))
    drive()
    trials = client.get(f"/api/v1/searches/{first['search_id']}/trials").json["items"]
    scores = [t["score"] for t in trials]
    assert scores == sorted(scores, reverse=True) and all(
        len(t["fold_scores"]) == 1 for t in trials
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"space": {"n_neighbors": [0, 3]}}, "space.n_neighbors"),  # outside the constraints
        ({"space": {"weights": {"low": 1, "high": 3}}}, "space.weights"),  # range, categorical
        ({"space": {"n_neighbors": []}}, "space.n_neighbors"),  # empty list
        (
            {"strategy": "grid", "space": {"n_neighbors": [1, 2, 3, 4]}, "budget": {"trials": 3}},
            "budget.trials",
        ),  # a grid over the trial budget
        ({"space": {"n_neighbors": [3]}, "metric": "r2"}, "metric"),  # not a classification metric
        ({"space": {"no_such": [1]}}, "space.no_such"),
        ({"space": {"n_neighbors": {"low": 5, "high": 2}}}, "space.n_neighbors"),
        ({"space": {"n_neighbors": [3]}, "fixed": {"n_neighbors": 4}}, "space.n_neighbors"),
        ({"space": {"n_neighbors": [3]}, "cv": 50}, "cv"),
        ({"space": {"n_neighbors": [3]}, "promote": "v2"}, "promote"),
        ({"space": {"n_neighbors": [3]}, "halving": {"factor": 2}}, "halving"),  # not halving
        (
            {
                "strategy": "halving",
                "space": {"n_neighbors": [3, 5]},
                "halving": {"min_resources": 5000},
            },
            "halving.min_resources",
        ),  # more rows than the training split has
        (
            {
                "strategy": "halving",
                "space": {"n_neighbors": [1, 3, 5, 7, 9, 11, 13, 15, 45]},
                "budget": {"trials": 9},
            },
            "space.n_neighbors",
        ),  # more neighbours than the first rung has rows (40)
        (
            {"strategy": "bayesian", "space": {"n_neighbors": {"low": 0, "high": 9}}},
            "space.n_neighbors",
        ),
        ({"strategy": "bayesian", "space": {"n_neighbors": [3]}, "halving": {}}, "halving"),
        ({"space": {"n_neighbors": [3]}, "keep": "some"}, "keep"),
    ],
)
def test_a_bad_search_is_refused_naming_the_field_and_queues_nothing(client, celery, body,
                                                                     field) -> None:  # fmt: skip
    response = _submit(client, **body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"]["field"] == field, response.json
    assert celery.sent == [] and client.get("/api/v1/searches").json["total"] == 0


def test_cancel_stops_queued_trials_and_keeps_finished_ones(client, drive) -> None:
    search = _submit(client, strategy="grid", space={"n_neighbors": [1, 3, 5, 7]},
                     budget={"trials": 4, "parallelism": 2}, cv=2).json  # fmt: skip
    drive(limit=1)  # one trial finished (and one more launched)
    cancelled = client.post(f"/api/v1/searches/{search['search_id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["progress"]["succeeded"] == 1
    assert cancelled.json["progress"]["cancelled"] >= 1
    drive()
    after = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert after["status"] == "cancelled" and after["progress"]["succeeded"] == 1
    assert client.get("/api/v1/models?name=iris_search").json["total"] == 0
    assert client.post(f"/api/v1/searches/{search['search_id']}/cancel").status_code == 409


def test_a_duplicate_advance_neither_skips_nor_doubles_a_trial(client, loaded_db, celery, redis,
                                                               drive) -> None:  # fmt: skip
    search = _submit(client, strategy="grid", space={"n_neighbors": [1, 3, 5]},
                     budget={"trials": 3, "parallelism": 1}, cv=2).json  # fmt: skip
    for _ in range(3):
        advance(loaded_db, celery, redis, search["search_id"])
    assert len(celery.sent) == 1  # parallelism 1: still one in flight
    loaded_db.searches.update_one({"_id": search["search_id"]}, {"$set": {"launched": 0}})
    advance(loaded_db, celery, redis, search["search_id"])  # as after a crash mid-launch
    assert len(celery.sent) == 1
    drive()
    trials = client.get(f"/api/v1/searches/{search['search_id']}/trials?sort=trial").json
    assert [t["trial"] for t in trials["items"]] == [0, 1, 2]
    assert client.get(f"/api/v1/searches/{search['search_id']}").json["status"] == "succeeded"


def test_max_seconds_ends_with_the_best_so_far(client, loaded_db, celery, redis, drive) -> None:
    search = _submit(client, strategy="grid", space={"n_neighbors": [1, 3, 5, 7]},
                     budget={"trials": 4, "parallelism": 1}, cv=2).json  # fmt: skip
    drive(limit=1)
    loaded_db.searches.update_one(
        {"_id": search["search_id"]}, {"$set": {"deadline": loaded_db.searches.find_one()[
            "created_at"]}},
    )  # fmt: skip
    advance(loaded_db, celery, redis, search["search_id"])
    drive()
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["status"] == "succeeded" and done["progress"]["succeeded"] >= 1
    assert done["best"]["model_id"] is not None


def test_a_protected_alias_needs_an_admin_key_to_promote(client, app) -> None:
    from tests.unit.auth.conftest import bearer

    key = client.post("/api/v1/keys", json={"name": "t", "scopes": ["train", "read"]}).json
    response = client.post(
        "/api/v1/searches", headers=bearer(key["key"]),
        json={**KNN, "space": {"n_neighbors": [3]}, "promote": "champion"},
    )  # fmt: skip
    assert response.status_code == 403


NEIGHBOURS = {"n_neighbors": [1, 3, 5, 7, 9, 11, 13, 15, 17]}


def test_a_halving_search_gives_each_rung_s_best_more_rows(client, loaded_db, drive) -> None:
    search = _submit(client, strategy="halving", space=NEIGHBOURS, cv=3,
                     budget={"trials": 9, "parallelism": 6}).json  # fmt: skip
    # iris: 120 training rows; 9 candidates, factor 3; floor 2 x 3 folds x 3 classes = 18
    # rows: so two rungs, 9 on 40 rows then the best 3 on all 120 ("exhaust")
    assert search["rungs"] == [{"size": 9, "resources": 40}, {"size": 3, "resources": 120}]
    assert search["progress"]["total"] == 12
    assert drive() == 13  # 12 trials and the refit
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["status"] == "succeeded" and done["progress"]["succeeded"] == 12, done
    trials = client.get(f"/api/v1/searches/{search['search_id']}/trials?sort=trial&limit=20")
    items = trials.json["items"]
    first, second = items[:9], items[9:]
    assert {t["rung"] for t in first} == {0} and {t["n_resources"] for t in first} == {40}
    assert {t["rung"] for t in second} == {1} and {t["n_resources"] for t in second} == {120}
    threads = {
        j["_id"]: j["threads"]
        for j in loaded_db.jobs.find({"search_id": search["search_id"], "kind": "trial"})
    }
    assert [threads[t["job_id"]] for t in items] == [1] * 9 + [2] * 3  # 6 slots / 3 candidates
    ranked = sorted(first, key=lambda t: t["score"], reverse=True)
    assert sorted(t["trial"] for t in ranked[:3]) == sorted(
        next(t["trial"] for t in first if t["params"] == s["params"]) for s in second
    )  # the survivors are the first rung's best three
    assert done["best"]["rung"] == 1 and done["leaderboard"][0]["rung"] == 1
    best_second = max(second, key=lambda t: t["score"])
    assert done["best"]["params"] == best_second["params"]
    model = client.get(f"/api/v1/models/{done['best']['model_id']}").json
    assert model["search_id"] == search["search_id"]
    assert model["hyperparameters"]["n_neighbors"] == best_second["params"]["n_neighbors"]


def test_a_halving_rung_with_no_success_ends_with_the_best_of_the_one_before(
    client, loaded_db, drive
) -> None:
    search = _submit(client, strategy="halving", space=NEIGHBOURS, cv=3,
                     budget={"trials": 9, "parallelism": 9}).json  # fmt: skip
    drive(limit=9)  # the first rung
    loaded_db.jobs.update_many(
        {"search_id": search["search_id"], "rung": 1}, {"$set": {"status": "failed"}}
    )  # as if every trial of the second rung failed
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["progress"]["failed"] == 3
    drive()
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["status"] == "succeeded" and done["best"]["rung"] == 0, done


def test_a_bayesian_search_asks_one_candidate_at_a_time_reproducibly(client, drive) -> None:
    space = {"n_neighbors": {"low": 1, "high": 40, "type": "int"},
             "weights": ["uniform", "distance"]}  # fmt: skip
    body = {"strategy": "bayesian", "space": space, "cv": 2,
            "budget": {"trials": 12, "parallelism": 2}}  # fmt: skip
    first = _submit(client, **body).json
    assert first["progress"]["total"] == 12 and first["progress"]["queued"] == 2
    drive()
    second = _submit(client, **body).json
    drive()

    def trials(search):
        url = f"/api/v1/searches/{search['search_id']}/trials?sort=trial&limit=20"
        return client.get(url).json["items"]

    done = client.get(f"/api/v1/searches/{first['search_id']}").json
    assert done["status"] == "succeeded" and done["progress"]["succeeded"] == 12, done
    asked = [t["params"] for t in trials(first)]
    assert asked == [t["params"] for t in trials(second)]  # same history, same candidates
    assert all(1 <= p["n_neighbors"] <= 40 and p["weights"] in space["weights"] for p in asked)
    assert len({repr(p) for p in asked}) >= 8  # TPE explores (few repeats)
    assert done["best"]["score"] == max(t["score"] for t in trials(first))


def test_a_bayesian_candidate_that_cannot_be_fitted_is_a_failed_trial(
    client, loaded_db, celery, redis, drive, monkeypatch
) -> None:
    from app.ml import bayesian

    asks = iter([{"n_neighbors": 3, "weights": "uniform"}, {"n_neighbors": 500,
                "weights": "uniform"}])  # fmt: skip
    monkeypatch.setattr(bayesian, "ask", lambda *args: next(asks))
    search = _submit(client, strategy="bayesian", cv=2, space={
        "n_neighbors": {"low": 1, "high": 40, "type": "int"}, "weights": ["uniform"]},
        budget={"trials": 2, "parallelism": 2}).json  # fmt: skip
    drive()
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["progress"]["failed"] == 1 and done["status"] == "succeeded", done
    failed = client.get(f"/api/v1/jobs/{search['search_id']}-trial-1").json
    assert failed["status"] == "failed" and failed["error"]["type"] == "validation"


def test_keep_all_registers_every_trial_s_model_and_no_refit(client, drive) -> None:
    search = _submit(client, strategy="grid", space={"n_neighbors": [1, 5, 15]}, cv=2,
                     keep="all", budget={"trials": 3, "parallelism": 3}).json  # fmt: skip
    assert drive() == 3  # three trials, no refit job
    done = client.get(f"/api/v1/searches/{search['search_id']}").json
    assert done["status"] == "succeeded" and done["refit_job_id"] is None, done
    models = client.get("/api/v1/models?name=iris_search").json["items"]
    assert sorted(m["version"] for m in models) == [1, 2, 3]
    trials = client.get(f"/api/v1/searches/{search['search_id']}/trials").json["items"]
    assert {t["model_id"] for t in trials} == {m["model_id"] for m in models}
    assert done["best"]["model_id"] == trials[0]["model_id"]


def test_trials_and_the_refit_go_to_the_queues_the_settings_name(
    client, drive, celery, settings, loaded_db
) -> None:
    names = {"search_queue": "tf-hpo", "training_queue": "tf-train"}
    celery.settings = settings.model_copy(update=names)
    response = _submit(client, strategy="grid", space={"n_neighbors": [1, 5]}, cv=2)
    assert response.status_code == 202, response.json
    drive()
    search = client.get(f"/api/v1/searches/{response.json['search_id']}").json
    assert search["status"] == "succeeded", search
    sent = {m["args"][0]: m["queue"] for m in celery.sent}
    jobs = list(loaded_db.jobs.find({"search_id": search["search_id"]}))
    assert {(job["kind"], job["queue"], sent[job["_id"]]) for job in jobs} == {
        ("trial", "tf-hpo", "tf-hpo"),
        ("train", "tf-train", "tf-train"),
    }
