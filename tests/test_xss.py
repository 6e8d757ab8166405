"""Hostile names come back escaped on every page: firms, streets, buildings, users, requests,
visits, reasons, file names, notifications and uploaded rosters named `<script>alert(1)</script>`
or `" onmouseover="x` never turn into markup, in text or in attributes.

Every HTML page of tests/route_table.py is read as each role over a sample world whose free
text is the payload; pages that show names must show the escaped payload (so a page that stopped
showing them cannot pass by accident).
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from openpyxl import load_workbook

from service_app.domain.tiers import Role
from service_app.extensions import db
from service_app.models import Firm

from . import factories
from .conftest import AuthActions
from .route_table import PAGES
from .samples import USERNAMES, Samples, make_samples

PAYLOADS = ["<script>alert(1)</script>", '" onmouseover="x']
#: Pages that show the sample world's names to an admin: each must carry the escaped payload.
SHOWS_NAMES = {
    "dashboard.index",  # street and officer names, the indicator target's name
    "main.notifications",
    "admin.users",
    "admin.edit_user",
    "firms.index",
    "firms.detail",
    "firms.edit",
    "followups.index",
    "followups.calendar",
    "followups.detail",
    "followups.move_firms",
    "firm_requests.index",
    "firm_requests.new",
    "firm_requests.detail",
    "roster.imports",
    "roster.batch",
    "tiers.proposal",
    "tiers.transitions",
    "exports.index",
    "dashboard.targets",  # the target's name
    "dashboard.edit_target",
    "buildings.index",  # building and street names
    "buildings.detail",  # the building's and its firms' names
    "workload.index",  # officer and street names
    "workload.rebalance",  # the officer's, the firms' and the streets' names
    "reports.quarter",  # street names
}


class MarkupScan(HTMLParser):
    """Collects what injected markup would look like: event-handler attributes, inline scripts,
    script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            url = (value or "").strip().lower()
            if name in ("href", "src", "action", "formaction") and url.startswith(("javascript:", "data:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self._in_script = True
            if not dict(attrs).get("src"):
                self.problems.append("<script> without src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data.strip()[:40]!r}")


def injection_problems(html: str, payload: str) -> list[str]:
    """Ways the payload became markup on the page (empty when it stayed text)."""
    scan = MarkupScan()
    scan.feed(html)
    scan.close()
    return (["the raw payload"] if payload in html else []) + scan.problems


@pytest.fixture(params=PAYLOADS, ids=["script", "attribute"])
def payload(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def hostile(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path, payload: str) -> Samples:
    """The sample world with the payload in every free text."""
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))
    with app.app_context():
        made = make_samples(payload)
        db.session.commit()
    return made


#: The signed-in roles (the supervisor sees what the admin sees; the anonymous visitor only the
#: sign-in page, see test_reflected_hostile_text_is_escaped).
READERS = ("officer", "district", "admin")


def test_every_page_escapes_hostile_names(app: Flask, hostile: Samples, payload: str) -> None:
    injected: dict[str, list[str]] = {}
    not_shown: list[str] = []
    for role in READERS:
        client = app.test_client()
        AuthActions(client).enter(USERNAMES[role])
        for endpoint, page in PAGES.items():
            if not page.html or page.expected()[role] != 200:
                continue
            urls = [page.url(app, endpoint, values) for values in (hostile.own, hostile.other)]
            for url in urls + page.variant_urls(app, endpoint, hostile.own):
                response = client.get(url)
                if url not in urls and response.mimetype != "text/html":
                    continue  # a variant that is a download
                html = response.get_data(as_text=True)
                if problems := injection_problems(html, payload):
                    injected[f"{role} {url}"] = problems
                if role == "admin" and endpoint in SHOWS_NAMES and str(escape(payload)) not in html:
                    not_shown.append(endpoint)
    assert not injected, f"markup injected: {injected}"
    assert not not_shown, f"these pages no longer show the (escaped) names: {sorted(set(not_shown))}"


FORMULA = '=HYPERLINK("http://x")'


def test_every_workbook_download_writes_hostile_names_as_text(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """A name such as `=HYPERLINK(…)` in any .xlsx download (charts, rankings, reports, rosters)
    is a text cell, never a formula Excel would evaluate."""
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))
    with app.app_context():
        samples = make_samples(FORMULA)
        db.session.commit()
    client = app.test_client()
    AuthActions(client).enter(USERNAMES["admin"])
    formulas: dict[str, list[str]] = {}
    named: list[str] = []
    for endpoint, page in PAGES.items():
        if page.html and not page.variants:
            continue
        urls = [page.url(app, endpoint, values) for values in (samples.own, samples.other)]
        for url in urls + page.variant_urls(app, endpoint, samples.own):
            response = client.get(url)
            body = response.get_data()
            response.close()
            if not response.mimetype.endswith("spreadsheetml.sheet"):
                continue
            workbook = load_workbook(io.BytesIO(body))
            cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
            if found := [cell.coordinate for cell in cells if cell.data_type == "f"]:
                formulas[url] = found
            if any(isinstance(cell.value, str) and cell.value.startswith(FORMULA) for cell in cells):
                named.append(endpoint)
    assert formulas == {}
    assert set(named) == {
        *("dashboard.chart_xlsx", "buildings.index", "buildings.chart_xlsx", "buildings.building_chart_xlsx"),
        *("reports.quarter_xlsx", "exports.roster", "exports.pack_street", "roster.errors_report"),
    }, "the downloads that show names changed: update this set"


def roster_upload(payload: str) -> bytes:
    """A roster with two firms named after the payload, a payload column and a payload credit code."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["统一社会信用代码", "企业名称", "所在街道", payload])
    writer.writerow([factories.credit_code(), f"{payload}一号有限公司", "临平街道", payload])
    writer.writerow([factories.credit_code(), f"{payload}二号有限公司", "临平街道", payload])
    writer.writerow([payload, f"{payload}坏代码有限公司", "临平街道", payload])
    return buffer.getvalue().encode("utf-8-sig")


def assert_escaped(html: str, payload: str) -> None:
    assert injection_problems(html, payload) == []
    assert str(escape(payload)) in html


def test_an_uploaded_roster_with_hostile_names_is_escaped_from_preview_to_undo(
    client: FlaskClient, auth: Any, world: Any, payload: str
) -> None:
    auth.login("supervisor")
    file_name = payload.replace('"', "%22") + ".csv"  # as a browser sends a quote in a file name
    response = client.post(
        "/roster/imports",
        data={"file": (io.BytesIO(roster_upload(payload)), file_name), "mode": "upsert", "skip_invalid": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    batch_url = response.location
    preview = client.get(batch_url).get_data(as_text=True)
    assert_escaped(preview, payload)
    for table in ('data-testid="preview"', 'data-testid="errors"'):
        section = preview[preview.index(table) :]
        section = section[: section.index("</table>")]
        assert str(escape(payload)) in section  # the names in the preview, the bad code in the errors
    assert f'aria-label="{escape(payload)}"' in preview  # the payload column's mapping select

    applied = client.post(f"{batch_url}/confirm", follow_redirects=True).get_data(as_text=True)
    assert_escaped(applied, payload)
    assert_escaped(client.get("/roster/imports").get_data(as_text=True), payload)
    listing = client.get("/firms/", query_string={"q": "一号有限公司"}).get_data(as_text=True)
    assert_escaped(listing, payload)
    undone = client.post(f"{batch_url}/undo", follow_redirects=True).get_data(as_text=True)
    assert_escaped(undone, payload)


def test_a_hostile_name_in_a_flash_message_is_escaped(client: FlaskClient, auth: Any, world: Any, payload: str) -> None:
    auth.login("admin")
    form = {"credit_code": factories.credit_code(), "name": f"{payload}新增有限公司", "street_id": str(world.street_a)}
    response = client.post("/firms/new", data={**form, "status": "active", "chain": "tech"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert 'class="alert alert-success' in html
    assert_escaped(html, payload)


def test_a_rebalance_with_hostile_names_is_escaped_from_counts_to_done(
    app: Flask, client: FlaskClient, hostile: Samples, payload: str
) -> None:
    """The confirmation step and the message after the move name officers, streets and firms."""
    with app.app_context():
        street_a = db.session.get(Firm, hostile.own["firm_id"]).street  # type: ignore[union-attr]
        taker = factories.make_user("sweep_taker", Role.OFFICER, [street_a])
        taker.display_name = f"{payload}接手专员"
        db.session.commit()
        taker_id = taker.id
    AuthActions(client).enter(USERNAMES["supervisor"])
    url = f"/workload/rebalance?source={hostile.own['officer_id']}"
    form = {"target_id": str(taker_id), "selection": "all", "tier": "", "street_id": ""}
    counts = client.post(url, data=form)
    assert counts.status_code == 200 and 'data-testid="confirm-move"' in counts.text
    assert_escaped(counts.text, payload)
    done = client.post(url, data=form | {"confirm": "1", "expected": "1"}, follow_redirects=True)
    assert "alert-success" in done.text
    assert_escaped(done.text, payload)


@pytest.mark.parametrize(
    "url",
    ["/login?next={p}", "/firms/?q={p}&tier={p}&sort={p}", "/no-such-page/{p}"],
    ids=["login-next", "firm-search", "404-path"],
)
def test_reflected_hostile_text_is_escaped(client: FlaskClient, world: Any, payload: str, url: str) -> None:
    if url.startswith("/firms"):
        client.post("/login", data={"username": "district_a", "password": factories.PASSWORD})
    html = client.get(url.format(p=payload)).get_data(as_text=True)
    assert injection_problems(html, payload) == []
