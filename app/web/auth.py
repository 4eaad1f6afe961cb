"""Log in with an API key (checked exactly as the API's guard checks a bearer key), log out."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.api import context
from app.services.keys import authenticate, secret_hash
from app.web.blueprint import bp
from app.web.session import local_path, sign_in, sign_out

MAX_KEY_LENGTH = 256


@bp.get("/login")
def login() -> str:
    """The login form: one field, the API key."""
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    """Check the key; on success start a session and go to ``next`` (local paths only)."""
    secret = request.form.get("key", "").strip()
    wanted = request.form.get("next", "")
    principal = None
    if secret and len(secret) <= MAX_KEY_LENGTH:
        principal = authenticate(context.db(), context.settings(), secret)
    if principal is None:
        error = "That API key is not valid: unknown, expired or revoked."
        return render_template("login.html", next=wanted, error=error), 401
    sign_in(principal, secret_hash(secret))
    return redirect(local_path(wanted, url_for("web.jobs")), 303)


@bp.post("/logout")
def logout() -> Response:
    """End the session (a POST with the CSRF token, so no other site can log you out)."""
    sign_out()
    return redirect(url_for("web.login"), 303)
