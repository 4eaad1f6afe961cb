"""/api/v1/statistics on mongomock (models trained by a direct run)."""

from __future__ import annotations

from app.ml.metrics import HEADLINE_METRIC


def test_statistics_count_models_jobs_and_scores(client, trained_model) -> None:
    trained_model(model_name="a")
    trained_model(model_name="a", hyperparameters={"n_neighbors": 1})
    trained_model(model_name="b")
    stats = client.get("/api/v1/statistics").json
    assert stats["models"]["total"] == 3
    assert stats["models"]["by_algorithm"] == {"knn": 3}
    assert stats["models"]["by_dataset"] == {"iris": 3}
    assert stats["jobs"]["by_status"]["succeeded"] == 3
    knn = stats["models"]["scores"]["classification"]["knn"]
    assert knn["count"] == 3 and knn["metric"] == HEADLINE_METRIC["classification"]
    assert 0 < knn["mean"] <= knn["best"] <= 1
    assert stats["models"]["scores"]["regression"] == {}


def test_statistics_of_an_empty_registry(client) -> None:
    stats = client.get("/api/v1/statistics").json
    assert stats["models"]["total"] == 0 and stats["models"]["scores"]["classification"] == {}
    assert set(stats["jobs"]["by_status"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    }
