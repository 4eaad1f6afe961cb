"""The UI's access: login and logout, redirects, the session cookie, CSRF, revoked keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services.keys import secret_hash
from tests.unit.conftest import ADMIN_KEY
from tests.unit.web.conftest import csrf_of, html_client, log_in, post


def test_a_logged_out_page_redirects_to_login_keeping_the_path(browser) -> None:
    response = browser.get("/ui/models?name=iris_knn")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/login?next=/ui/models?name%3Diris_knn"


def test_root_leads_to_the_ui_and_the_login_page_asks_for_a_key(browser) -> None:
    assert browser.get("/").headers["Location"] == "/ui/"
    page = browser.get("/ui/login")
    assert page.status_code == 200
    assert 'name="key"' in page.get_data(as_text=True)


def test_login_with_the_admin_key_goes_to_next_and_shows_the_key(browser) -> None:
    token = csrf_of(browser)
    response = browser.post(
        "/ui/login", data={"key": ADMIN_KEY, "csrf_token": token, "next": "/ui/datasets"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/ui/datasets"
    page = browser.get("/ui/datasets").get_data(as_text=True)
    assert "TENSORFLEET_ADMIN_KEY" in page and "Log out" in page


def test_next_never_leads_off_the_site(browser) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        token = csrf_of(browser)
        response = browser.post(
            "/ui/login", data={"key": ADMIN_KEY, "csrf_token": token, "next": target}
        )
        assert response.headers["Location"] == "/ui/", target


def test_a_wrong_key_is_refused_on_the_form(browser) -> None:
    token = csrf_of(browser)
    response = browser.post("/ui/login", data={"key": "tf_nope", "csrf_token": token})
    assert response.status_code == 401
    assert "not valid" in response.get_data(as_text=True)
    assert browser.get("/ui/").status_code == 302


def test_logout_ends_the_session(admin) -> None:
    assert admin.get("/ui/").status_code == 200
    response = post(admin, "/ui/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/ui/login"
    assert admin.get("/ui/").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(admin) -> None:
    response = admin.post("/ui/logout")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert admin.post("/ui/logout", data={"csrf_token": "forged"}).status_code == 400
    assert admin.get("/ui/").status_code == 200  # still logged in


def test_the_login_form_itself_needs_the_csrf_token(browser) -> None:
    assert browser.post("/ui/login", data={"key": ADMIN_KEY}).status_code == 400


def test_the_session_cookie_is_httponly_strict_and_scoped_to_the_ui(browser) -> None:
    token = csrf_of(browser)
    response = browser.post("/ui/login", data={"key": ADMIN_KEY, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("tensorfleet_ui=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert ADMIN_KEY not in cookie and secret_hash(ADMIN_KEY) not in cookie


def test_the_cookie_is_secure_over_tls(app) -> None:
    user = html_client(app)
    page = user.get("/ui/login", base_url="https://localhost")
    token = page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    response = user.post(
        "/ui/login",
        data={"key": ADMIN_KEY, "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/ui/login"},
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_json_api_does_not_accept_the_ui_session(admin) -> None:
    response = admin.get("/api/v1/jobs")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_revoked_key_s_session_ends_on_the_next_request(app, loaded_db, make_key) -> None:
    user = html_client(app)
    secret = make_key("read")
    log_in(user, secret)
    assert user.get("/ui/").status_code == 200
    loaded_db.keys.update_one(
        {"hash": secret_hash(secret)}, {"$set": {"revoked_at": datetime.now(UTC)}}
    )
    response = user.get("/ui/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/ui/login")


def test_an_expired_key_s_session_ends_on_the_next_request(app, loaded_db, make_key) -> None:
    user = html_client(app)
    secret = make_key("read")
    log_in(user, secret)
    past = datetime.now(UTC) - timedelta(seconds=1)
    loaded_db.keys.update_one({"hash": secret_hash(secret)}, {"$set": {"expires_at": past}})
    assert user.get("/ui/models").status_code == 302


def test_a_polled_fragment_sends_a_logged_out_page_to_login(browser) -> None:
    response = browser.get(
        "/ui/jobs/progress?ids=x",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/ui/?status=running"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/ui/login?next=/ui/"


def test_static_assets_need_no_session(browser) -> None:
    with browser.get("/ui/static/ui.css") as css:
        assert css.status_code == 200
    with browser.get("/ui/static/vendor/htmx.min.js") as htmx:
        assert htmx.status_code == 200 and b"htmx" in htmx.data


def test_ui_answers_carry_their_server_time(admin) -> None:
    timing = admin.get("/ui/").headers["Server-Timing"]
    assert timing.startswith("app;dur=") and float(timing.split("=")[1]) > 0


def test_a_client_that_takes_no_html_gets_the_api_s_401(app) -> None:
    response = app.test_client().get("/ui/models", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
