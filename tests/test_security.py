"""The security baseline: CSRF, cookies, headers, escaping and error pages."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from flask import Flask

import service_app.deployment
from config import TestConfig
from service_app import configure_instance, create_app
from service_app.extensions import db
from service_app.models import Firm

from . import factories


@pytest.fixture
def csrf_client(app, database_url):
    """A client of an app with CSRF on, sharing the test database."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        WTF_CSRF_ENABLED = True

    csrf_app = create_app(Config)
    yield csrf_app.test_client()
    with csrf_app.app_context():
        db.engine.dispose()


def test_post_without_csrf_token_is_refused(csrf_client, world):
    response = csrf_client.post("/login", data={"username": "admin", "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "表单已过期" in response.text or "CSRF" not in response.text
    assert "Traceback" not in response.text


def test_language_switch_without_token_is_refused(csrf_client):
    assert csrf_client.post("/language", data={"lang": "en"}).status_code == 400


@pytest.mark.parametrize("path", ["/login", "/firms/", "/no-such-page"])
def test_headers_on_every_page(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_flags(client, auth, world):
    response = auth.login("admin")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_templates_have_no_inline_script(client, auth, world):
    auth.login("admin")
    for path in ("/", "/firms/", f"/firms/{world.firm_a}", f"/firms/{world.firm_a}/edit", "/admin/users"):
        html = client.get(path).text
        assert "<script>" not in html
        assert "onclick=" not in html
        assert "style=" not in html


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '" onmouseover="x'])
def test_firm_names_are_escaped(client, auth, world, app, payload):
    with app.app_context():
        firm = db.session.get(Firm, world.firm_a)
        firm.name = payload
        firm.notes = payload
        db.session.commit()
    auth.login("admin")
    for path in ("/firms/", f"/firms/{world.firm_a}", f"/firms/{world.firm_a}/edit"):
        html = client.get(path).text
        assert payload not in html
        assert "&lt;script&gt;" in html or "&#34; onmouseover=&#34;x" in html


def test_oversized_upload_gets_413_page(client, app, auth, world):
    auth.login("admin")
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/firms/new", data={"notes": "x" * (limit + 1)})
    assert response.status_code == 413
    assert "文件过大" in response.text or "太大" in response.text


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Traceback" not in response.text


def test_secret_key_is_generated_once_into_instance(tmp_path):
    app = create_app(TestConfig)
    app.instance_path = str(tmp_path)
    app.config["SECRET_KEY"] = None
    configure_instance(app)
    key = app.config["SECRET_KEY"]
    assert len(key) == 64
    app.config["SECRET_KEY"] = None
    configure_instance(app)
    assert app.config["SECRET_KEY"] == key  # the same key after a restart: sessions survive
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def bare_app(instance: Path) -> Flask:
    """An app with only an instance folder and no secret key, as a worker starts."""
    app = Flask(__name__, instance_path=str(instance))
    app.config.update(SECRET_KEY=None, SQLALCHEMY_DATABASE_URI="sqlite://")
    return app


def test_secret_key_file_is_private_even_with_an_open_umask(tmp_path):
    previous = os.umask(0)
    try:
        configure_instance(bare_app(tmp_path))
    finally:
        os.umask(previous)
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_workers_starting_together_share_one_secret_key(tmp_path):
    apps = [bare_app(tmp_path) for _ in range(8)]
    start = threading.Barrier(len(apps))

    def boot(app: Flask) -> None:
        start.wait()
        configure_instance(app)

    threads = [threading.Thread(target=boot, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = {app.config["SECRET_KEY"] for app in apps}
    assert keys == {(tmp_path / "secret_key").read_text()}
    assert len(keys.pop()) == 64


def test_an_empty_secret_key_file_stops_start_up(tmp_path, monkeypatch):
    (tmp_path / "secret_key").write_text("")
    monkeypatch.setattr(service_app.deployment.time, "sleep", lambda seconds: None)
    with pytest.raises(RuntimeError, match="empty"):
        configure_instance(bare_app(tmp_path))
