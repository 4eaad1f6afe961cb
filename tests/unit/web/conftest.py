"""Fixtures of the web UI tests: logged-in test clients (one per scope set), CSRF tokens
read from the pages as a browser would, and trained models."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pymongo.database import Database

from app.services.keys import KeyRequest, create_key
from tests.unit.conftest import ADMIN_KEY

_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_of(client: FlaskClient, path: str = "/ui/login") -> str:
    """The CSRF token a page of ``path`` carries (its ``<meta name="csrf-token">``)."""
    found = _TOKEN.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def log_in(client: FlaskClient, key: str) -> None:
    """Log ``client`` in with ``key`` through the login form."""
    token = csrf_of(client)
    response = client.post("/ui/login", data={"key": key, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """POST a UI form with the session's CSRF token, as the page's form would."""
    token = csrf_of(client, "/ui/datasets")
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kw)


def html_client(app: Flask) -> FlaskClient:
    """A test client that asks for HTML, as a browser's navigations do."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    return client


@pytest.fixture
def make_key(loaded_db: Database) -> Callable[..., str]:
    """``make_key("read", "train")``: a new key holding those scopes; returns its secret."""

    def make(*scopes: str) -> str:
        _doc, secret = create_key(loaded_db, KeyRequest(name="ui-test", scopes=list(scopes)), "t")
        return secret

    return make


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    """A client with no key and no session, as a fresh browser."""
    return html_client(app)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    """A client logged in to the UI with the admin key."""
    client = html_client(app)
    log_in(client, ADMIN_KEY)
    return client


@pytest.fixture
def as_scopes(app: Flask, make_key: Callable[..., str]) -> Callable[..., FlaskClient]:
    """``as_scopes("read")``: a client logged in with a new key of those scopes."""

    def login(*scopes: str) -> FlaskClient:
        client = html_client(app)
        log_in(client, make_key(*scopes))
        return client

    return login


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    """A JSON API client with the admin key. Unlike ``client`` it keeps no request context
    after a request: a kept one would lend its ``g`` to the UI clients' requests."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_KEY}"
    return client


@pytest.fixture
def trained(api: FlaskClient, run_job: Callable[..., Any]) -> Callable[..., dict]:
    """``trained(**body)``: submit a job through the API, run it, return the finished job."""

    def train(**body: Any) -> dict:
        sent = {"dataset": "iris", "algorithm": "knn", **body}
        job_id = api.post("/api/v1/jobs", json=sent).json["job_id"]
        run_job(job_id, "w")
        return api.get(f"/api/v1/jobs/{job_id}").json

    return train


@pytest.fixture
def drive(loaded_db: Database, celery: Any, redis: Any, run_job: Callable[..., Any]) -> Callable:
    """``drive()``: run every published job in order, as workers would (advancing its
    search after each), until none is left; how many ran."""
    from app.services.searches import advance

    done: set[str] = set()

    def run_all(limit: int = 1000) -> int:
        ran = 0
        while ran < limit:
            pending = [m["args"][0] for m in celery.sent if m["args"][0] not in done]
            if not pending:
                return ran
            done.add(pending[0])
            run_job(pending[0])
            ran += 1
            job = loaded_db.jobs.find_one({"_id": pending[0]})
            if job.get("search_id"):
                advance(loaded_db, celery, redis, job["search_id"])
        return ran

    return run_all
