"""The Open Inference Protocol v2 under /v2: metadata, readiness, infer (both conventions)."""

from __future__ import annotations

import pytest

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture
def flowers(client, trained_model):
    return trained_model(model_name="flowers")["result"]


def _column_tensors(rows: int = 1) -> list[dict]:
    return [
        {"name": name, "shape": [rows], "datatype": "FP64", "data": [value] * rows}
        for name, value in ROW.items()
    ]


def test_metadata_lists_one_input_per_feature_and_the_outputs(client, flowers) -> None:
    meta = client.get("/v2/models/flowers").json
    assert meta["name"] == "flowers" and meta["versions"] == ["1"] and meta["platform"] == "sklearn"
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [(k, "FP64") for k in ROW]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert client.get("/v2/models/flowers/ready").json == {"name": "flowers", "ready": True}
    assert client.get("/v2/health/ready").json == {"ready": True}
    assert client.get("/v2/models/nobody").status_code == 404


def test_infer_with_one_tensor_per_column(client, flowers) -> None:
    body = {"id": "r1", "inputs": _column_tensors(2), "parameters": {"content_type": "pd"}}
    answer = client.post("/v2/models/flowers/infer", json=body).json
    assert answer["model_name"] == "flowers" and answer["model_version"] == "1"
    assert answer["id"] == "r1" and answer["parameters"]["engine"] == "onnx"
    [out] = answer["outputs"]
    assert out == {"name": "predict", "shape": [2], "datatype": "BYTES", "data": ["setosa"] * 2}


def test_infer_with_one_matrix_and_probabilities(client, flowers) -> None:
    body = {
        "inputs": [
            {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [list(ROW.values())]}
        ],
        "parameters": {"proba": True},
    }
    answer = client.post("/v2/models/flowers/versions/1/infer", json=body).json
    predict, proba = answer["outputs"]
    assert predict["data"] == ["setosa"] and proba["shape"] == [1, 3]
    assert proba["datatype"] == "FP64" and abs(sum(proba["data"]) - 1) < 1e-5


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"inputs": []},
        {"inputs": [{"name": "sepal_length", "datatype": "FP64"}]},
        {"inputs": [{"name": "sepal_length", "shape": [1], "datatype": "COMPLEX", "data": [1]}]},
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [[1, 2, 3]]}]},
        {"inputs": _column_tensors(1)[:3]},
    ],
)
def test_bad_v2_requests_are_400(client, flowers, body) -> None:
    response = client.post("/v2/models/flowers/infer", json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "validation_error"


def test_unknown_version_is_404(client, flowers) -> None:
    body = {"inputs": _column_tensors()}
    assert client.post("/v2/models/flowers/versions/9/infer", json=body).status_code == 404
