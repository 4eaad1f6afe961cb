"""Jobs pages: list, filters and sorting in the URL, live progress, detail, submit, cancel."""

from __future__ import annotations

import re

from tests.unit.web.conftest import post


def _submit_api(api, **body) -> str:
    sent = {"dataset": "iris", "algorithm": "knn", **body}
    return api.post("/api/v1/jobs", json=sent).json["job_id"]


def test_the_jobs_page_with_no_jobs_says_so(admin) -> None:
    page = admin.get("/ui/")
    assert page.status_code == 200
    assert "No jobs" in page.get_data(as_text=True)


def test_the_jobs_page_lists_jobs_with_status_progress_and_model_link(admin, trained) -> None:
    job = trained(model_name="iris_a")
    page = admin.get("/ui/").get_data(as_text=True)
    assert job["job_id"][-8:] in page and "succeeded" in page
    assert f"/ui/models/{job['result']['model_id']}" in page
    assert 'aria-valuenow="100"' in page
    assert "hx-trigger" not in page  # nothing active: nothing polls


def test_filters_and_sort_come_from_the_query_string(admin, api, trained) -> None:
    trained(model_name="iris_a")
    queued = _submit_api(api, model_name="iris_b")
    page = admin.get("/ui/?status=queued&sort=model_name").get_data(as_text=True)
    assert queued[-8:] in page and "iris_a" not in page
    assert '<option value="queued" selected>' in page
    assert '<option value="model_name" selected>' in page
    by_name = admin.get("/ui/?model_name=iris_a").get_data(as_text=True)
    assert "iris_b" not in by_name and "iris_a" in by_name
    assert "No jobs match" in admin.get("/ui/?kind=predict").get_data(as_text=True)


def test_a_bad_filter_is_a_400_page_naming_it(admin) -> None:
    response = admin.get("/ui/?status=bogus")
    assert response.status_code == 400
    assert "&#39;status&#39; must be one of" in response.get_data(as_text=True)
    assert admin.get("/ui/?page=0").status_code == 400
    assert admin.get("/ui/?sort=nope").status_code == 400


def test_pagination_keeps_the_filters(admin, api) -> None:
    for _ in range(3):
        _submit_api(api)
    page = admin.get("/ui/?limit=2&status=queued").get_data(as_text=True)
    assert "rows 1 to 2 · page 1" in page
    assert 'href="/ui/?limit=2&amp;status=queued&amp;page=2"' in page
    second = admin.get("/ui/?limit=2&status=queued&page=2").get_data(as_text=True)
    assert "rows 3 to 3 · page 2" in second and 'rel="prev"' in second
    assert 'rel="next"' not in second


def test_active_jobs_poll_a_progress_fragment_until_they_end(admin, api, run_job) -> None:
    job_id = _submit_api(api)
    page = admin.get("/ui/").get_data(as_text=True)
    poll = re.search(r'hx-get="([^"]+)"\s+hx-trigger="every 1s \[document.visibilityState', page)
    assert poll, "an active job's rows poll"
    url = poll.group(1).replace("&amp;", "&")
    assert url == f"/ui/jobs/progress?ids={job_id}"
    fragment = admin.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<tbody") and "queued" in fragment
    assert "hx-trigger" in fragment
    run_job(job_id)
    done = admin.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "succeeded" in done and 'aria-valuenow="100"' in done
    assert "hx-trigger" not in done  # the swapped-in rows stop polling


def test_the_job_page_shows_stages_times_attempts_worker_and_model(admin, trained) -> None:
    job = trained()
    page = admin.get(f"/ui/jobs/{job['job_id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("Created", "Started", "Finished", "Attempts", "Worker", ">w<", "fitting"):
        assert text in html, text
    assert f"/ui/models/{job['result']['model_id']}" in html
    assert "n_neighbors" in html  # its hyperparameters


def test_a_running_job_s_page_polls_its_live_part(admin, api) -> None:
    job_id = _submit_api(api)
    html = admin.get(f"/ui/jobs/{job_id}").get_data(as_text=True)
    assert f'hx-get="/ui/jobs/{job_id}/live"' in html
    live = admin.get(f"/ui/jobs/{job_id}/live").get_data(as_text=True)
    assert live.lstrip().startswith('<section class="card" id="job-live"')


def test_an_unknown_job_is_an_html_404(admin) -> None:
    response = admin.get("/ui/jobs/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "Job &#39;nope&#39; not found." in response.text
    assert admin.get("/ui/nothing/here").status_code == 404


def test_the_submit_form_offers_datasets_algorithms_and_their_hyperparameters(admin) -> None:
    html = admin.get("/ui/jobs/new?dataset=iris&algorithm=random_forest").get_data(as_text=True)
    assert "<option selected>iris</option>" in html
    assert 'name="hp.n_estimators"' in html and 'placeholder="100"' in html
    assert "an int in the range [1, inf)" in html  # the constraint, from /algorithms
    assert 'name="hp.criterion"' in html and "default (gini)" in html


def test_the_hyperparameter_fields_follow_the_algorithm_and_the_target(admin) -> None:
    fields = admin.get("/ui/jobs/hyperparameters?dataset=iris&algorithm=ridge").text
    assert "does not train classification" in fields
    regression = admin.get(
        "/ui/jobs/hyperparameters?dataset=iris&algorithm=ridge&target=petal_width"
    ).text
    assert "Task: regression" in regression and 'name="hp.alpha"' in regression


def test_submitting_the_form_creates_and_queues_a_job(admin, celery, loaded_db) -> None:
    response = post(
        admin,
        "/ui/jobs",
        {"dataset": "iris", "algorithm": "random_forest", "model_name": "iris_form",
         "hp.n_estimators": "20", "hp.max_depth": "3", "hp.criterion": "", "test_size": "0.25"},
    )  # fmt: skip
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = loaded_db.jobs.find_one({"_id": job_id})
    assert job["model_name"] == "iris_form" and job["test_size"] == 0.25
    assert job["hyperparameters"]["n_estimators"] == 20 and job["hyperparameters"]["max_depth"] == 3
    assert job["hyperparameters"]["criterion"] == "gini"
    assert [m["args"] for m in celery.sent] == [[job_id]]


def test_a_bad_hyperparameter_returns_the_form_with_the_message(admin, celery) -> None:
    response = post(
        admin, "/ui/jobs", {"dataset": "iris", "algorithm": "knn", "hp.n_neighbors": "-3"}
    )
    assert response.status_code == 400
    html = response.text
    assert "n_neighbors" in html and "Got -3 instead" in html
    assert 'value="-3"' in html  # what was typed stays
    assert celery.sent == []


def test_cancel_stops_a_queued_job_and_says_so(admin, api, loaded_db) -> None:
    job_id = _submit_api(api)
    response = post(admin, f"/ui/jobs/{job_id}/cancel", {"next": "/ui/?status=queued"})
    assert response.status_code == 303 and response.headers["Location"] == "/ui/?status=queued"
    assert loaded_db.jobs.find_one({"_id": job_id})["status"] == "cancelled"
    assert f"Job {job_id} cancelled." in admin.get("/ui/").text


def test_cancelling_a_finished_job_shows_the_conflict(admin, trained) -> None:
    job = trained()
    response = post(admin, f"/ui/jobs/{job['job_id']}/cancel", follow_redirects=True)
    assert response.status_code == 200
    assert f"Job &#39;{job['job_id']}&#39; already succeeded." in response.text
