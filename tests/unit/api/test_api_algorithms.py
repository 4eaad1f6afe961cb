"""/api/v1/algorithms: what can be trained, described from scikit-learn."""

from __future__ import annotations


def test_algorithms_are_described_from_sklearn(client) -> None:
    items = {a["name"]: a for a in client.get("/api/v1/algorithms").json["items"]}
    assert {
        "random_forest",
        "decision_tree",
        "svm",
        "gradient_boosting",
        "knn",
        "logistic_regression",
        "linear_regression",
        "ridge",
    } <= set(items)
    assert items["logistic_regression"]["tasks"] == ["classification"]
    n_estimators = items["random_forest"]["hyperparameters"]["n_estimators"]
    assert n_estimators["default"] == 100 and n_estimators["max"] == 2000


def test_one_algorithm_and_an_unknown_one(client) -> None:
    assert client.get("/api/v1/algorithms/knn").json["name"] == "knn"
    response = client.get("/api/v1/algorithms/nope")
    assert response.status_code == 400 and "knn" in response.json["error"]["details"]["allowed"]
