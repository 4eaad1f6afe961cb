"""Bad bodies and absurd parameters are clear 4xx answers, never a 500 (found by fuzzing)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/jobs?page=99999999999999999999",
        "/api/v1/models?page=99999999999999999999",
        "/api/v1/datasets/iris?version=99999999999999999999",
        "/api/v1/jobs?limit=-1",
    ],
)
def test_huge_or_negative_numbers_in_the_query_are_400(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "validation_error"


def test_a_json_body_nested_5000_deep_is_400(client, loaded_db) -> None:
    body = "[" * 5000 + "]" * 5000
    response = client.post("/api/v1/jobs", data=body, content_type="application/json")
    assert response.status_code == 400 and "nests deeper" in response.json["error"]["message"]
    assert loaded_db.jobs.count_documents({}) == 0


def test_a_moderately_deep_body_is_refused_before_validation(client) -> None:
    body = {"dataset": "iris", "algorithm": "knn", "hyperparameters": {"a": [[[[[[]]]]]] * 1}}
    nested: dict = body["hyperparameters"]
    for _ in range(40):
        nested["x"] = {}
        nested = nested["x"]
    response = client.post("/api/v1/jobs", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400


def test_a_form_encoded_submit_is_415_naming_the_expected_type(client, loaded_db) -> None:
    response = client.post("/api/v1/jobs", data={"dataset": "iris", "algorithm": "knn"})
    assert response.status_code == 415
    assert response.json["error"]["details"]["expected"] == "application/json"
    assert loaded_db.jobs.count_documents({}) == 0


def test_json_sent_with_the_wrong_content_type_is_415(client) -> None:
    body = json.dumps({"dataset": "iris", "algorithm": "knn"})
    response = client.post("/api/v1/jobs", data=body, content_type="text/plain")
    assert response.status_code == 415 and "application/json" in response.json["error"]["message"]


def test_multipart_without_a_boundary_is_400(client) -> None:
    response = client.post("/api/v1/datasets", data=b"--x\r\n", content_type="multipart/form-data")
    assert response.status_code == 400 and "boundary" in response.json["error"]["message"]


def test_an_upload_that_is_not_multipart_is_415(client) -> None:
    response = client.post("/api/v1/datasets", data=b"a,b\n1,2\n", content_type="text/csv")
    assert response.status_code == 415
    assert response.json["error"]["details"]["expected"] == "multipart/form-data"
