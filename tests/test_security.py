"""The security baseline: CSRF, cookies, headers, escaping and error pages."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

import service_app.deployment
from config import TestConfig
from service_app import configure_instance, create_app
from service_app.domain.quarters import Quarter
from service_app.extensions import db
from service_app.models import Firm, Notification, ProposalItem, User
from service_app.models.types import utcnow

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


# --- open redirects ------------------------------------------------------------------------------

#: Targets that leave the site in some browser, once it has stripped tabs and newlines, read a
#: backslash as a slash, or decoded the percent signs.
REDIRECT_VECTORS = [
    "//evil.com",
    "https://evil.com",
    "http://evil.com/firms/",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.com",
    "/%2F/evil.com",
    "/%5Cevil.com",
    "/%09/evil.com",
    "http:evil.com",
    "https:/evil.com",
    "///evil.com",
    "http://127.0.0.1@evil.com",
    " //evil.com",
    "\t//evil.com",
    "\n//evil.com",
    "/\t/evil.com",
    "/\r\n/evil.com",
]
#: Tab, newline and carriage return, which browsers drop from anywhere in a URL.
_DROPPED = re.compile(r"[\t\n\r]")


def lands_on_site(location: str) -> bool:
    """Where a browser goes for this Location, read as leniently as browsers read it."""
    cleaned = _DROPPED.sub("", location.strip("".join(map(chr, range(33))))).replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/firms/", cleaned))
    return target.scheme in ("http", "https") and target.netloc == "localhost"


@pytest.mark.parametrize(
    "location", ["//evil.com", "/\\evil.com", "\t//evil.com", "/\n/evil.com", "javascript:x", " //e.com"]
)
def test_the_check_sees_where_a_browser_would_go(location):
    assert not lands_on_site(location)
    assert lands_on_site("/firms/?q=abc") and lands_on_site("/")


@pytest.mark.parametrize("target", REDIRECT_VECTORS)
def test_sign_in_next_stays_on_site(client, app, target):
    # One sign-in per vector, each by its own user, so a sign-in limit sees one attempt per user.
    with app.app_context():
        factories.make_user(f"redirect{REDIRECT_VECTORS.index(target)}", "supervisor")
        db.session.commit()
    response = client.post(
        "/login",
        data={"username": f"redirect{REDIRECT_VECTORS.index(target)}", "password": factories.PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert lands_on_site(response.location), response.location


@pytest.mark.parametrize("target", REDIRECT_VECTORS)
def test_signed_in_users_sent_on_from_the_sign_in_page_stay_on_site(client, auth, world, target):
    auth.enter("officer_a")
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302
    assert lands_on_site(response.location), response.location


@pytest.mark.parametrize("target", REDIRECT_VECTORS)
def test_language_switch_next_stays_on_site(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.status_code == 302
    assert lands_on_site(response.location), response.location


@pytest.mark.parametrize("target", REDIRECT_VECTORS)
def test_a_notification_link_stays_on_site(client, auth, world, app, target):
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        note = Notification(
            user_id=user.id,
            object_type="user",
            object_id=str(user.id),
            kind="test",
            day=utcnow().date(),
            message="x",
            link=target,
            created_at=utcnow(),
        )
        db.session.add(note)
        db.session.commit()
        note_id = note.id
    auth.enter("officer_a")
    response = client.post("/notifications/read", data={"id": str(note_id)})
    assert response.status_code == 302
    assert lands_on_site(response.location), response.location


@pytest.fixture
def proposal_item(app, world) -> tuple[int, int]:
    """A draft proposal's line: (proposal id, item id)."""
    from service_app.tiers.services import propose_tiers

    with app.app_context():
        proposal = propose_tiers(Quarter(2031, 1))
        item_id = db.session.scalars(sa.select(ProposalItem.id).where(ProposalItem.proposal_id == proposal.id)).first()
        db.session.commit()
        return proposal.id, item_id


@pytest.mark.parametrize("target", [v for v in REDIRECT_VECTORS if not _DROPPED.search(v)])  # headers carry no newline
def test_a_refused_override_goes_back_only_to_a_page_of_this_site(client, auth, proposal_item, target):
    auth.enter("supervisor")
    proposal_id, item_id = proposal_item
    url = f"/tiers/proposals/{proposal_id}/items/{item_id}/override"
    response = client.post(url, data={"tier": "key", "reason": ""}, headers={"Referer": target})
    assert response.status_code == 302
    assert lands_on_site(response.location), response.location


def test_a_refused_override_goes_back_to_the_filtered_review_page(client, auth, proposal_item):
    auth.enter("supervisor")
    proposal_id, item_id = proposal_item
    review = f"/tiers/proposals/{proposal_id}?change=new&q=%E6%9D%AD"
    url = f"/tiers/proposals/{proposal_id}/items/{item_id}/override"
    response = client.post(url, data={"tier": "key", "reason": ""}, headers={"Referer": f"http://localhost{review}"})
    assert response.location == review


# --- NUL characters ------------------------------------------------------------------------------


def test_a_nul_in_a_search_or_a_form_is_dropped_not_a_500(client, auth, world, app):
    auth.enter("officer_a")
    assert client.get("/firms/", query_string={"q": "甲\x00街道"}).status_code == 200
    response = client.post(
        f"/firms/{world.firm_a}/edit", data={"status": "active", "notes": "第一\x00行", "version": "1"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Firm, world.firm_a).notes == "第一行"


def test_a_nul_in_an_uploaded_file_name_is_dropped(client, auth, world):
    auth.enter("officer_a")
    data = {"file": (io.BytesIO(b"not a roster"), "名录\x00.csv"), "mode": "upsert"}
    response = client.post("/roster/imports", data=data, content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "名录.csv" in response.text
