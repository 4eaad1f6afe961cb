"""Searches pages: the list with progress, a search's leaderboard, rungs and charts."""

from __future__ import annotations

import re

KNN = {"dataset": "iris", "algorithm": "knn", "model_name": "iris_search", "cv": 3}


def test_the_searches_page_with_no_searches_says_so(admin) -> None:
    page = admin.get("/ui/searches")
    assert page.status_code == 200 and "No searches" in page.text


def test_a_running_search_shows_its_progress_and_polls(admin, api) -> None:
    body = {**KNN, "strategy": "grid", "space": {"n_neighbors": [1, 5, 15]},
            "budget": {"trials": 10, "parallelism": 2}}  # fmt: skip
    search_id = api.post("/api/v1/searches", json=body).json["search_id"]
    listing = admin.get("/ui/searches").text
    assert search_id[-8:] in listing and "0/3" in listing
    page = admin.get(f"/ui/searches/{search_id}").text
    assert f'hx-get="/ui/searches/{search_id}/live"' in page
    assert "No trial has finished yet." in page
    live = admin.get(f"/ui/searches/{search_id}/live").text
    assert live.lstrip().startswith('<section class="card" id="search-live"')


def test_a_finished_search_shows_leaderboard_best_and_a_chart_per_parameter(
    admin, api, drive
) -> None:
    body = {**KNN, "strategy": "grid", "budget": {"trials": 10, "parallelism": 3},
            "space": {"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]}}  # fmt: skip
    search_id = api.post("/api/v1/searches", json=body).json["search_id"]
    drive()
    html = admin.get(f"/ui/searches/{search_id}").text
    assert "succeeded" in html and "hx-trigger" not in html
    assert len(re.findall(r'<a href="/ui/jobs/[^"]+-trial-\d+">#\d+</a>', html)) == 6
    assert html.count('<figure class="chart">') == 2  # n_neighbors and weights
    best = api.get(f"/api/v1/searches/{search_id}").json["best"]
    assert f"/ui/models/{best['model_id']}" in html
    assert "6/6" in admin.get("/ui/searches?status=succeeded").text
    assert search_id not in admin.get("/ui/searches?status=running").text


def test_a_halving_search_shows_its_rungs(admin, api, drive) -> None:
    space = {"n_neighbors": {"low": 1, "high": 30, "type": "int", "log": True}}
    body = {**KNN, "strategy": "halving", "budget": {"trials": 9, "parallelism": 6}, "space": space}
    search_id = api.post("/api/v1/searches", json=body).json["search_id"]
    drive()
    html = admin.get(f"/ui/searches/{search_id}").text
    assert "<h3>Rungs</h3>" in html and "<th>Rung</th>" in html
    assert "<td>120</td>" in html  # the last rung's training rows


def test_an_unknown_search_is_a_404_page(admin) -> None:
    assert admin.get("/ui/searches/nope").status_code == 404
    assert admin.get("/ui/searches?strategy=bogus").status_code == 400
