"""The interactive API docs' pages and assets, all served by TensorFleet itself (no CDN).

Swagger UI and Redoc come from the ``offapi`` package (spectree's offline
assets); the pages are spectree page templates pointing at ``/api/v1/docs/assets/``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Blueprint, send_from_directory
from werkzeug.wrappers import Response

from app.errors import NotFoundError

ASSET_URL = "/api/v1/docs/assets"
_VENDORED = {"swagger_bundle.js", "swagger_preset.js", "swagger_style.css", "redoc.js"}
_OURS = Path(__file__).parent / "docs_assets"

_SWAGGER = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>TensorFleet API</title>
<link rel="stylesheet" href="{ASSET_URL}/swagger_style.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSET_URL}/swagger_bundle.js"></script>
<script src="{ASSET_URL}/swagger_preset.js"></script>
<script src="{ASSET_URL}/swagger_init.js" data-spec-url="{{spec_url}}" id="swagger-init"></script>
</body></html>"""
_REDOC = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>TensorFleet API</title></head>
<body><redoc spec-url="{{spec_url}}" disable-telemetry="true" hide-loading></redoc>
<script type="module" src="{ASSET_URL}/redoc.js"></script>
</body></html>"""
PAGE_TEMPLATES = {"swagger": _SWAGGER, "redoc": _REDOC}  # spectree fills in {spec_url}

bp = Blueprint("docs", __name__)


@bp.get(f"{ASSET_URL}/<name>")
def asset(name: str) -> Response:
    """One JavaScript or CSS file of the docs pages (cached a day)."""
    if name in _VENDORED:
        return send_from_directory(str(files("offapi")), name, max_age=86400)
    if (_OURS / name).is_file():
        return send_from_directory(_OURS, name, max_age=86400)
    raise NotFoundError(f"No docs asset '{name}'.", {"asset": name})
