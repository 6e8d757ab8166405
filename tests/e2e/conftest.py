"""End-to-end fixtures: a live server on 127.0.0.1 and Debian's Chromium driven by Playwright.

Every test under tests/e2e is marked `e2e`. Without /usr/bin/chromium the tests are skipped,
unless E2E_REQUIRED=1 (CI), which turns the missing browser into a failure.

The live app has its own SQLite file, migrated and seeded once per run. Its fixtures are not
named `app` on purpose: the root conftest's `_rollback` wraps any test that asks for `app` in
a transaction on the unit-test database, which a server thread must never share.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import python_calamine
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from config import TestConfig
from service_app import create_app
from service_app.extensions import db
from service_app.models import Firm, Street, User

from .. import factories

CHROMIUM = Path("/usr/bin/chromium")
E2E_DIR = Path(__file__).resolve().parent
SCREENSHOT_DIR = Path("test-results") / "e2e"
SKIP_REASON = f"end-to-end tests need Chromium at {CHROMIUM} (apt-get install chromium); set E2E_REQUIRED=1 to fail"
FAIL_REASON = f"E2E_REQUIRED=1 but Chromium is missing at {CHROMIUM} (apt-get install chromium)"

#: Firms seeded per street; names are distinct so a partial search picks out exactly the expected rows.
FIRMS = {
    "临平街道": [
        "杭州临平云织服饰有限公司",
        "杭州临平云帆贸易有限公司",
        "杭州临平星河数字科技有限公司",
        "杭州临平织梦时尚设计有限公司",
    ],
    "东湖街道": [
        "杭州东湖云织纺织有限公司",  # shares 云织 with a 临平 firm: must never show to officer_a
        "杭州东湖明远电子商务有限公司",
        "杭州东湖青禾数字科技有限公司",
    ],
}

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def _is_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(item.path).resolve().parents


def _chromium_missing() -> bool:
    return not CHROMIUM.exists()


def _chromium_required() -> bool:
    return os.environ.get("E2E_REQUIRED") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests under tests/e2e; skip them without Chromium unless it is required."""
    skip = _chromium_missing() and not _chromium_required()
    for item in items:
        if not _is_e2e(item):
            continue
        item.add_marker(pytest.mark.e2e)
        if skip:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """E2E_REQUIRED=1 without Chromium: fail before any fixture tries to launch it."""
    if _is_e2e(item) and _chromium_missing() and _chromium_required():
        pytest.fail(FAIL_REASON, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


@dataclass
class Seeded:
    """Ids of the seeded data, for building URLs and resetting state."""

    street_a: int
    street_b: int
    firms: dict[str, int]  # name -> id


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The application on its own migrated and seeded SQLite file (never TEST_DATABASE_URL)."""
    database = tmp_path_factory.mktemp("e2e") / "e2e.db"

    class LiveConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"
        WTF_CSRF_ENABLED = True  # real forms in a real browser carry their token

    application = create_app(LiveConfig)
    with application.app_context():
        upgrade()
        streets = {
            "临平街道": factories.make_street("临平街道", "330113001"),
            "东湖街道": factories.make_street("东湖街道", "330113002"),
        }
        factories.make_user("admin", "admin")
        factories.make_user("officer_a", "officer", [streets["临平街道"]])
        factories.make_user("district_a", "district", [streets["临平街道"]])
        firms = {
            name: factories.make_firm(streets[street], name=name).id
            for street, names in FIRMS.items()
            for name in names
        }
        db.session.commit()
        application.extensions["e2e_seeded"] = Seeded(streets["临平街道"].id, streets["东湖街道"].id, firms)
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def seeded(live_app: Flask) -> Seeded:
    """Ids of the seeded streets and firms."""
    return live_app.extensions["e2e_seeded"]


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    """Serve the live app on a free port of 127.0.0.1 in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    """pytest-playwright's base_url, pointed at the live server (relative page.goto works too)."""
    return live_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium, headless, without the sandbox or background chatter."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a browser test fails, save its open pages to test-results/e2e/<test name>[-n].png.

    The browser fixtures the test uses are set up from here, so they are torn down after this
    finalizer has taken the screenshots (an autouse fixture is otherwise set up first and torn
    down last, when the pages are already closed).
    """
    browser_fixtures = [name for name in ("page", "new_context") if name in request.fixturenames]
    for name in browser_fixtures:
        request.getfixturevalue(name)
    yield
    reports = request.node.stash.get(_REPORTS, {})
    if not browser_fixtures or not any(r.failed for r in reports.values()):
        return
    browser: Browser = request.getfixturevalue("browser")
    folder = request.config.rootpath / SCREENSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    pages = [p for context in browser.contexts for p in context.pages if not p.is_closed()]
    for index, open_page in enumerate(pages):
        suffix = "" if index == 0 else f"-{index}"
        try:
            open_page.screenshot(path=str(folder / f"{name}{suffix}.png"), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"screenshot of page {index} failed: {exc}")


@pytest.fixture
def reset_locales(live_app: Flask) -> Iterator[None]:
    """The language switch saves the choice on the user; forget every user's afterwards, pass or fail."""
    yield
    with live_app.app_context():
        db.session.execute(sa.update(User).values(locale=None))
        db.session.commit()
        db.session.remove()


@dataclass
class OwnFirm:
    """A firm one test made for itself."""

    id: int
    name: str
    credit_code: str


@pytest.fixture
def own_firm(live_app: Flask, seeded: Seeded) -> Iterator[Callable[[str], OwnFirm]]:
    """Make firms in 临平街道 for one test only; afterwards they are deleted, with everything that
    hangs on them (requests, visits, metrics), so the seeded street looks the same to the next test."""
    made: list[int] = []

    def make(name: str) -> OwnFirm:
        with live_app.app_context():
            firm = factories.make_firm(db.session.get(Street, seeded.street_a), name=name)
            db.session.commit()
            made.append(firm.id)
            own = OwnFirm(firm.id, firm.name, firm.credit_code)
            db.session.remove()
        return own

    yield make
    with live_app.app_context():
        db.session.execute(sa.delete(Firm).where(Firm.id.in_(made)))
        db.session.commit()
        db.session.remove()


def firm_names_in(workbook: bytes) -> set[str]:
    """The firm names on the tier sheets of an exported roster workbook."""
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(workbook))
    return {row[2] for name in book.sheet_names[2:] for row in book.get_sheet_by_name(name).to_python()[1:]}


def login(page: Page, base_url: str, username: str, password: str = factories.PASSWORD) -> None:
    """Sign in through the real form (labels are Chinese by default, so locate by name)."""
    page.goto(f"{base_url}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) button[type=submit]").click()


def expect_signed_in(page: Page, username: str) -> None:
    """The navbar names the signed-in user."""
    expect(page.get_by_test_id("current-user")).to_contain_text(username)
