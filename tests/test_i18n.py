"""Both catalogues are complete, and the language switch works."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from service_app.extensions import db
from service_app.models import AuditEvent, User

from . import factories

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalogues():
    spec = importlib.util.spec_from_file_location("catalogues", ROOT / "tools" / "catalogues.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.extract()  # from the code as it is now, so a new string without translation fails here
    return module


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_catalogue_is_complete(catalogues, locale):
    assert catalogues.missing(locale) == [], f"run `make catalogues` and translate the {locale} entries"


def test_placeholders_match(catalogues):
    from babel.messages import checkers
    from babel.messages.pofile import read_po

    for locale in ("zh", "en"):
        with catalogues.catalogue_path(locale).open("rb") as handle:
            catalogue = read_po(handle, locale=locale)
        for message in catalogue:
            if message.id:
                checkers.python_format(catalogue, message)  # raises TranslationError on a mismatch


def test_switch_language_and_back(client, auth, world):
    auth.login("officer_a")
    assert "退出登录" in client.get("/").text
    response = client.post("/language", data={"lang": "en", "next": "/firms/"})
    assert response.location == "/firms/"
    page = client.get("/firms/").text
    assert "Sign out" in page
    assert '<html lang="en">' in page
    client.post("/language", data={"lang": "zh_CN"})
    assert "退出登录" in client.get("/").text


def test_language_is_remembered_for_the_user(client, auth, world, app):
    auth.login("officer_a")
    client.post("/language", data={"lang": "en"})
    other_browser = app.test_client()
    other_browser.post("/login", data={"username": "officer_a", "password": factories.PASSWORD})
    assert "Sign out" in other_browser.get("/").text


def test_unknown_language_is_ignored(client):
    client.post("/language", data={"lang": "xx", "next": "//evil.example"})
    assert "登录" in client.get("/login").text


def test_remembered_language_is_audited(client, auth, world, app):
    auth.login("officer_a")
    client.post("/language", data={"lang": "en"})
    client.post("/language", data={"lang": "en"})  # no change, no event
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == "officer_a")).one()
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.locale")).all()
        assert [(e.object_id, e.user_id, e.before, e.after) for e in events] == [
            (str(user.id), user.id, {"locale": None}, {"locale": "en"})
        ]


def test_anonymous_language_switch_records_nothing(client, app):
    client.post("/language", data={"lang": "en"})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "user.locale")) == 0


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ('{{ _("Firms") }}', "企业"),
        ('{{ _("%(total)s firms found", total="<b>3</b>") }}', "共找到 &lt;b&gt;3&lt;/b&gt; 家企业"),
        ('{{ _("Rows with %(ratio)s%% more", ratio=125) }}', "Rows with 125% more"),  # untranslated: as written
        ('{{ _("All 100%% of them") }}', "All 100% of them"),  # no variables, still formatted: %% is one %
        ('{{ _("Search") ~ "<i>" }}', "搜索&lt;i&gt;"),  # still markup: what is added to it is escaped
    ],
)
def test_templates_translate_and_escape_as_jinjas_gettext_does(app, source, shown):
    """Templates' _() is service_app.i18n.template_gettext, one call instead of Jinja's three: the
    same output as Jinja's newstyle gettext in an autoescaped template."""
    from flask import render_template_string

    with app.test_request_context("/"):
        assert render_template_string(source) == shown


def test_templates_translate_only_literal_text():
    """Templates' _() returns the catalogue's text as markup (service_app.i18n.template_gettext): safe
    because its argument is always a string written in the template, never a value such as a name."""
    call = re.compile(r"\b(?:_|gettext|ngettext)\(\s*([^\s)])")
    offending = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "service_app").rglob("*.html"))
        for match in call.finditer(path.read_text(encoding="utf-8"))
        if match.group(1) not in "\"'"
    ]
    assert not offending, offending
