"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def trained_model(client: FlaskClient, run_job: Callable[..., Any]) -> Callable[..., dict]:
    """``trained_model(**body)``: submit an iris knn job, run it directly, return the job."""

    def train(**body: Any) -> dict:
        job_id = client.post(
            "/api/v1/jobs", json={"dataset": "iris", "algorithm": "knn", **body}
        ).json["job_id"]
        run_job(job_id, "w")
        return client.get(f"/api/v1/jobs/{job_id}").json

    return train
