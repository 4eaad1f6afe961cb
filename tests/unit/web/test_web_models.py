"""Models pages: the registry list, a version's detail and charts, alias moves with the
gate, the "try it" form, downloads, and comparing versions."""

from __future__ import annotations

from tests.unit.web.conftest import post


def test_the_models_page_with_no_models_says_so(admin) -> None:
    page = admin.get("/ui/models")
    assert page.status_code == 200 and "No models" in page.text


def test_versions_are_grouped_by_name_with_aliases_and_tags(admin, api, trained) -> None:
    first = trained(model_name="iris_a")
    trained(model_name="iris_a", hyperparameters={"n_neighbors": 1})
    trained(model_name="iris_b", algorithm="decision_tree")
    api.put("/api/v1/models/iris_a/aliases/challenger", json={"version": 1})
    api.patch(f"/api/v1/models/{first['result']['model_id']}", json={"tags": {"team": "ml"}})
    html = admin.get("/ui/models").text
    assert html.count('class="card group"') == 2
    assert "@challenger" in html and "team=ml" in html
    assert ">v1<" in html and ">v2<" in html


def test_filters_and_sorting_by_a_metric(admin, api, trained) -> None:
    trained(model_name="iris_a", hyperparameters={"n_neighbors": 1})
    trained(model_name="iris_b", algorithm="decision_tree")
    api.put("/api/v1/models/iris_b/aliases/challenger", json={"version": 1})
    assert "iris_b" not in admin.get("/ui/models?algorithm=knn").text
    assert "iris_a" not in admin.get("/ui/models?alias=challenger").text
    assert "No models match" in admin.get("/ui/models?tag=team=none").text
    sorted_page = admin.get("/ui/models?sort=-f1_macro")
    assert sorted_page.status_code == 200 and "<th>f1_macro</th>" in sorted_page.text
    assert "No models match" in admin.get("/ui/models?sort=-r2").text  # no regressor here
    assert "versions that have no r2 are left out" in admin.get("/ui/models?sort=-r2").text
    assert "left out" not in admin.get("/ui/models?sort=name").text
    assert admin.get("/ui/models?sort=-nonsense").status_code == 400
    assert admin.get("/ui/models?tag=novalue").status_code == 400


def test_the_model_page_shows_metrics_confusion_matrix_and_lineage(admin, trained) -> None:
    job = trained()
    html = admin.get(f"/ui/models/{job['result']['model_id']}").text
    assert "test_accuracy" in html and "f1_macro" in html
    assert 'class="chart chart-confusion"><svg' in html
    assert "/ui/datasets/iris?version=1" in html
    assert f"/ui/jobs/{job['job_id']}" in html
    assert "format=joblib" in html and "format=onnx" in html  # the ONNX copy passed parity


def test_a_binary_classifier_shows_roc_and_pr_curves(admin, trained) -> None:
    job = trained(dataset="breast_cancer", algorithm="logistic_regression")
    html = admin.get(f"/ui/models/{job['result']['model_id']}").text
    assert 'chart-roc"><svg' in html and 'chart-pr"><svg' in html


def test_an_older_model_without_curves_still_renders(admin, trained, loaded_db) -> None:
    job = trained()
    loaded_db.models.update_one(
        {"_id": job["result"]["model_id"]},
        {"$unset": {"curves": "", "feature_importances": "", "feature_types": ""}},
    )
    page = admin.get(f"/ui/models/{job['result']['model_id']}")
    assert page.status_code == 200 and "chart-roc" not in page.text


def test_a_tree_shows_its_feature_importances(admin, trained) -> None:
    job = trained(algorithm="random_forest", hyperparameters={"n_estimators": 10})
    html = admin.get(f"/ui/models/{job['result']['model_id']}").text
    assert 'chart-importances"><svg' in html


def test_models_are_found_by_any_reference_and_unknown_ones_are_404(admin, trained) -> None:
    trained(model_name="iris_a")
    assert admin.get("/ui/models/iris_a@latest").status_code == 200
    assert admin.get("/ui/models/iris_a@v1").status_code == 200
    missing = admin.get("/ui/models/nope")
    assert missing.status_code == 404 and "Model &#39;nope&#39; not found." in missing.text


def test_moving_an_alias_here(admin, api, trained) -> None:
    job = trained(model_name="iris_a")
    model_id = job["result"]["model_id"]
    response = post(admin, f"/ui/models/{model_id}/alias", {"alias": "staging"})
    assert response.status_code == 303
    assert api.get("/api/v1/models/iris_a@staging").json["model_id"] == model_id
    assert "iris_a@staging now points at version 1." in admin.get(response.location).text


def test_the_promotion_gate_refusal_is_shown_nicely(admin, api, trained) -> None:
    trained(model_name="iris_a")
    second = trained(model_name="iris_a")  # the same score: a gate asking +0.05 refuses it
    api.put("/api/v1/models/iris_a/aliases/staging", json={"version": 1})
    response = post(
        admin,
        f"/ui/models/{second['result']['model_id']}/alias",
        {"alias": "staging", "gate_metric": "test_accuracy", "min_delta": "0.05"},
    )
    assert response.status_code == 409
    assert (
        "the gate needs at least" in response.text and 'class="flash flash-error"' in response.text
    )
    assert api.get("/api/v1/models/iris_a@staging").json["version"] == 1


def test_a_bad_alias_name_is_a_400_on_the_page(admin, trained) -> None:
    job = trained()
    response = post(admin, f"/ui/models/{job['result']['model_id']}/alias", {"alias": "latest"})
    assert response.status_code == 400 and "reserved" in response.text


def test_the_try_it_form_predicts_one_row_with_probabilities(admin, trained) -> None:
    job = trained()
    row = {"f.sepal_length": "5.1", "f.sepal_width": "3.5", "f.petal_length": "1.4",
           "f.petal_width": "0.2"}  # fmt: skip
    response = post(admin, f"/ui/models/{job['result']['model_id']}/predict", row)
    assert response.status_code == 200
    html = response.text
    assert "Prediction: <strong>setosa</strong>" in html
    assert "<td>versicolor</td>" in html  # a probability per class
    assert 'value="5.1"' in html


def test_a_row_the_model_cannot_take_is_a_400_naming_the_column(admin, trained) -> None:
    job = trained()
    response = post(admin, f"/ui/models/{job['result']['model_id']}/predict",
                    {"f.sepal_length": "abc"})  # fmt: skip
    assert response.status_code == 400 and "sepal_length" in response.text


def test_downloads_stream_the_verified_files(admin, trained) -> None:
    job = trained()
    model_id = job["result"]["model_id"]
    with admin.get(f"/ui/models/{model_id}/download?format=joblib") as joblib_file:
        assert joblib_file.status_code == 200
        assert joblib_file.headers["Content-Disposition"].endswith(".joblib")
        assert len(joblib_file.data) == int(joblib_file.headers["Content-Length"])
    with admin.get(f"/ui/models/{model_id}/download?format=onnx") as onnx_file:
        assert onnx_file.status_code == 200
    assert admin.get(f"/ui/models/{model_id}/download?format=pickle").status_code == 400


def test_compare_shows_metrics_side_by_side_with_a_chart(admin, trained) -> None:
    ids = [trained(model_name=f"iris_{n}")["result"]["model_id"] for n in "ab"]
    page = admin.get(f"/ui/compare?ids={ids[0]},{ids[1]}")
    assert page.status_code == 200
    assert "iris_a v1" in page.text and "iris_b v1" in page.text and "<svg" in page.text
    ticked = admin.get(f"/ui/compare?ids={ids[0]}&ids={ids[1]}")  # the models page's checkboxes
    assert ticked.status_code == 200


def test_compare_explains_too_few_too_many_and_unknown_ids(admin, trained) -> None:
    model_id = trained()["result"]["model_id"]
    one = admin.get(f"/ui/compare?ids={model_id}")
    assert one.status_code == 400 and "Pick 2 to 5 models to compare; got 1." in one.text
    six = admin.get("/ui/compare?ids=" + ",".join(f"m{i}" for i in range(6)))
    assert six.status_code == 400 and "got 6" in six.text
    unknown = admin.get(f"/ui/compare?ids={model_id},nope")
    assert unknown.status_code == 404 and "No model with id nope." in unknown.text
    assert admin.get("/ui/compare").status_code == 400
