"""Who uses the UI: an API key asked for once, then a signed session cookie.

The cookie holds the key's id and a fingerprint of its stored hash (an HMAC under the
UI's secret, ``Settings.ui_secret_key``), never the key itself. Every request re-reads
the key (one lookup by id), so a revoked or expired key's session ends on its next
request, and the key's scopes decide what each page offers (``can``) and allows
(``require``). Logged out, a browser is sent to the login page (a polled fragment
sends its page there); a client that does not take HTML gets the API's 401. Every POST
carries a CSRF token (Flask-WTF, tied to the session); the JSON API is untouched: it
takes bearer keys and never reads this cookie, whose path is ``/ui``. The cookie is
HttpOnly, SameSite=Strict, and Secure on a TLS request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from app.api import context
from app.api.errors import handle_domain_error
from app.errors import AuthenticationError
from app.services.keys import Principal, still_valid
from app.web.blueprint import bp

SESSION_HOURS = 12
COOKIE_NAME = "tensorfleet_ui"
OPEN_VIEWS = frozenset({"web.login", "web.login_submit", "web.static"})  # need no session
csrf = CSRFProtect()
View = TypeVar("View", bound=Callable[..., Any])


class UISessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure exactly when the request came over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure on HTTPS (``request.is_secure``, behind ``TRUSTED_PROXIES`` too)."""
        return request.is_secure


def install(app: Flask) -> None:
    """Configure ``app``'s session cookie and CSRF protection for the UI."""
    app.secret_key = app.extensions["tensorfleet.settings"].ui_secret_key
    app.session_interface = UISessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_PATH="/ui",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,  # only the UI's forms: checked in ``_check_session``
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
    )
    csrf.init_app(app)
    app.jinja_env.globals.update(can=can, who=current_principal)


def fingerprint(key_hash: str) -> str:
    """What the cookie keeps of a key: an HMAC of its stored hash under the UI's secret."""
    secret = current_app.secret_key
    assert isinstance(secret, bytes)
    return hmac.new(secret, key_hash.encode(), hashlib.sha256).hexdigest()


def sign_in(principal: Principal, key_hash: str) -> None:
    """Start a fresh session for ``principal`` (the old one, and its CSRF token, dropped)."""
    session.clear()
    session.permanent = True
    session["key_id"] = principal.key_id
    session["fp"] = fingerprint(key_hash)
    g.principal = principal


def sign_out() -> None:
    """End the session."""
    session.clear()
    g.principal = None


def _session_principal() -> Principal | None:
    """The principal of the session's key if that key is still valid and is the same key."""
    key_id, kept = session.get("key_id"), session.get("fp")
    if not isinstance(key_id, str) or not isinstance(kept, str):
        return None
    found = still_valid(context.db(), context.settings(), key_id)
    if found is None or not hmac.compare_digest(fingerprint(found[1]), kept):
        return None
    return found[0]


def current_principal() -> Principal | None:
    """Who this UI request acts as (None when logged out)."""
    return g.get("principal")


def can(scope: str) -> bool:
    """Whether this request's key holds ``scope`` (templates show only what it allows)."""
    principal = current_principal()
    return principal is not None and principal.allows(scope)


def require(scope: str) -> Callable[[View], View]:
    """A view decorator: 403 (an HTML page) unless the key holds ``scope``, as the JSON
    route of the same action declares it (``security=scope(...)`` in ``app.api``)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not can(scope):
                abort(403, f"This API key lacks the '{scope}' scope.")
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site (``/ui/...``), else ``default``: a login's
    ``next`` never leads elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def _login_redirect() -> Response:
    if request.headers.get("HX-Request"):  # a polled fragment: send the whole page there
        page = urlsplit(request.headers.get("HX-Current-URL", "")).path or url_for("web.jobs")
        response = Response(status=401)
        response.headers["HX-Redirect"] = url_for("web.login", next=page)
        return response
    if not request.accept_mimetypes.accept_html:  # a script, not a browser: the API's 401
        return handle_domain_error(
            AuthenticationError(
                "Log in at /ui/login first (the UI takes a session, not a bearer key).",
                {"login": url_for("web.login")},
                {"WWW-Authenticate": 'Bearer realm="tensorfleet"'},
            )
        )
    wanted = request.full_path if request.query_string else request.path
    return redirect(url_for("web.login", next=wanted))


@bp.before_request
def _check_session() -> Response | None:
    """Every UI request: who (re-checked), then the login redirect, then the CSRF token."""
    if request.endpoint == "web.static":
        return None
    g.principal = _session_principal()  # the audit writer records who acted
    if g.principal is None and "key_id" in session:
        session.clear()  # its key was revoked, expired or changed
    if g.principal is None and request.endpoint not in OPEN_VIEWS:
        return _login_redirect()
    if request.method == "POST":
        csrf.protect()
    return None
