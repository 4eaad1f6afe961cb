"""The web UI under ``/ui/``: server-rendered pages (Flask + Jinja) with live parts in htmx.

Pages, one module per group (each view calls the same services as the JSON API)::

    /ui/login, /ui/logout                        auth.py      the API key, asked once
    /ui/, /ui/jobs/new, /ui/jobs/<id>            jobs.py      list, submit, detail, cancel
    /ui/jobs/progress?ids=, /ui/jobs/<id>/live                polled fragments (htmx)
    /ui/models, /ui/models/<ref>                 models.py    registry, detail, alias, predict
    /ui/compare?ids=a,b                          compare.py   2-5 models side by side
    /ui/datasets, /ui/datasets/<name>            datasets.py  list, profile, rows, upload
    /ui/searches, /ui/searches/<id>              searches.py  progress, leaderboard, charts

Access (session cookie, CSRF, scopes): ``app.web.session``; HTML errors:
``app.web.errors``; every asset is served from ``static/`` (htmx vendored, no CDN);
charts are inline SVG from ``app.web.charts``.
"""

from __future__ import annotations

from flask import Flask

from app.web import auth, compare, datasets, errors, jobs, models, searches, session, timing
from app.web.blueprint import bp
from app.web.formatting import install_filters

PAGES = (auth, jobs, models, compare, datasets, searches, errors)  # their routes are on ``bp``


def register_web(app: Flask) -> None:
    """Mount the UI on ``app`` at ``/ui/`` (sessions, CSRF, template filters, the pages)."""
    session.install(app)
    timing.install(app)
    install_filters(app)
    app.register_blueprint(bp)
