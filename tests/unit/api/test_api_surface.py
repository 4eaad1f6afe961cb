"""The HTTP surface as a whole: the route table, JSON errors, the OpenAPI document."""

from __future__ import annotations

import re

import app.api


def _documented_routes() -> set[tuple[str, str]]:
    """(method, path) of every row of the route table in ``app.api``'s docstring."""
    rows = re.findall(r"^\s+(GET|POST|PUT|PATCH|DELETE)\s+(/\S*)", app.api.__doc__, re.M)
    return {(method, path.split("?")[0]) for method, path in rows}


def test_the_route_table_lists_exactly_the_registered_routes(app) -> None:
    registered = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if not rule.rule.startswith(("/api/v1/docs/", "/static"))
    }
    documented = {row for row in _documented_routes() if not row[1].startswith("/api/v1/docs/")}
    assert registered == documented


def test_unknown_route_and_wrong_method_are_json(client) -> None:
    assert client.get("/api/v1/nothing").json["error"]["code"] == "not_found"
    response = client.delete("/api/v1/jobs")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"


def test_openapi_document_lists_every_endpoint(client) -> None:
    paths = client.get("/api/v1/docs/openapi.json").json["paths"]
    for method, path in _documented_routes():
        if path.startswith("/api/v1/") and not path.startswith("/api/v1/docs"):
            openapi_path = re.sub(r"<(\w+)>", r"{\1}", path)
            assert method.lower() in paths[openapi_path], (method, path)
    assert client.get("/api/v1/docs/swagger/").status_code == 200


def test_docs_path_redirects_to_interactive_docs_and_root_to_the_ui(anonymous) -> None:
    for path, target in (("/api/v1/docs", "/api/v1/docs/swagger/"), ("/", "/ui/")):
        response = anonymous.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == target
