"""What a key's scopes forbid is not offered, and refused if asked for anyway; the UI
mirrors each JSON route's ``security=scope(...)``."""

from __future__ import annotations

from tests.unit.web.conftest import post


def test_a_read_key_sees_pages_but_no_submit_cancel_upload_alias_or_predict(
    as_scopes, api, trained
) -> None:
    job = trained()
    api.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"})  # one queued
    reader = as_scopes("read")
    jobs = reader.get("/ui/").text
    assert "New training job" not in jobs and ">Cancel<" not in jobs
    assert 'id="upload"' not in reader.get("/ui/datasets").text
    model = reader.get(f"/ui/models/{job['result']['model_id']}").text
    assert "Point alias" not in model and "Try it" not in model
    assert "Train on it" not in reader.get("/ui/datasets/iris").text


def test_a_read_key_is_refused_the_actions_themselves(as_scopes, trained, celery) -> None:
    job = trained()
    reader = as_scopes("read")
    refused = post(reader, "/ui/jobs", {"dataset": "iris", "algorithm": "knn"})
    assert refused.status_code == 403 and "lacks the &#39;train&#39; scope" in refused.text
    assert reader.get("/ui/jobs/new").status_code == 403
    assert post(reader, f"/ui/jobs/{job['job_id']}/cancel").status_code == 403
    assert post(reader, "/ui/datasets", {"name": "x", "target": "y"}).status_code == 403
    model = job["result"]["model_id"]
    assert post(reader, f"/ui/models/{model}/alias", {"alias": "a"}).status_code == 403
    assert post(reader, f"/ui/models/{model}/predict", {}).status_code == 403
    assert len(celery.sent) == 1  # only the API's own submit


def test_a_train_key_is_offered_training_but_not_predictions(as_scopes, api, trained) -> None:
    job = trained()
    api.post("/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn"})
    trainer = as_scopes("read", "train")
    jobs = trainer.get("/ui/").text
    assert "New training job" in jobs and ">Cancel<" in jobs
    model = trainer.get(f"/ui/models/{job['result']['model_id']}").text
    assert "Point alias" in model and "Try it" not in model
    assert "Protected aliases (champion, production) need an admin key." in model


def test_a_protected_alias_needs_an_admin_key(as_scopes, admin, trained) -> None:
    model = trained()["result"]["model_id"]
    trainer = as_scopes("read", "train")
    refused = post(trainer, f"/ui/models/{model}/alias", {"alias": "champion"})
    assert refused.status_code == 403 and "protected alias" in refused.text
    assert post(admin, f"/ui/models/{model}/alias", {"alias": "champion"}).status_code == 303


def test_a_predict_key_can_try_a_model(as_scopes, trained) -> None:
    model = trained()["result"]["model_id"]
    predictor = as_scopes("read", "predict")
    assert "Try it" in predictor.get(f"/ui/models/{model}").text
    row = {"f.sepal_length": "6.7", "f.sepal_width": "3.0", "f.petal_length": "5.2",
           "f.petal_width": "2.3"}  # fmt: skip
    answer = post(predictor, f"/ui/models/{model}/predict", row)
    assert answer.status_code == 200 and "Prediction: <strong>" in answer.text
