"""Exports in a real browser: the list's download, a large list built in the background with its
progress page, and a street pack that a street office downloads only its own part of."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import python_calamine
from flask import Flask
from playwright.sync_api import Page, expect

from service_app.exports.tasks import build_packs
from service_app.extensions import db
from service_app.models import ExportPack, User

from .. import factories
from .conftest import FIRMS, firm_names_in, login

SUPERVISOR = "exports_boss"


@pytest.fixture(scope="module")
def export_folder(live_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Exports of this module go to a folder of their own; a supervisor asks for packs."""
    folder = tmp_path_factory.mktemp("exports")
    live_app.config["EXPORT_FOLDER"] = str(folder)
    with live_app.app_context():
        if db.session.scalar(db.select(User).where(User.username == SUPERVISOR)) is None:
            factories.make_user(SUPERVISOR, "supervisor")
            db.session.commit()
        db.session.remove()
    yield folder
    live_app.config.pop("EXPORT_FOLDER")


def run_scheduler_job(live_app: Flask) -> None:
    """What the scheduler process does every 15 seconds."""
    with live_app.app_context():
        build_packs()
        db.session.remove()


def sheet_names(data: bytes) -> list[str]:
    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).sheet_names


def test_officer_downloads_the_list_as_shown(page: Page, base_url: str, export_folder: Path) -> None:
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/")
    with page.expect_download() as info:
        page.get_by_test_id("export-xlsx").click()
    download = info.value
    assert download.suggested_filename == "临平街道_" + download.suggested_filename.split("_", 1)[1]
    assert download.suggested_filename.endswith("_企业分类名录.xlsx")
    data = Path(download.path()).read_bytes()
    assert sheet_names(data)[:2] == ["说明", "汇总"]
    assert firm_names_in(data) == set(FIRMS["临平街道"])  # only the officer's street


def test_a_large_list_shows_progress_then_the_file(
    page: Page, base_url: str, live_app: Flask, export_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(live_app.config, "EXPORT_INLINE_LIMIT", 1)
    login(page, base_url, "officer_a")
    page.goto(f"{base_url}/firms/")
    page.get_by_test_id("export-xlsx").click()
    expect(page.get_by_test_id("export-count")).to_contain_text("超过直接下载的上限")  # it asks first
    page.get_by_test_id("queue-export").click()
    expect(page).to_have_url(f"{base_url}/exports/")
    expect(page.locator(".alert")).to_contain_text("数量较多")
    mine = page.get_by_test_id("my-exports")
    expect(mine).to_contain_text("排队中")

    run_scheduler_job(live_app)  # the page reloads itself every 3 seconds until the file is there
    link = mine.get_by_role("link", name="_企业分类名录.xlsx")
    expect(link).to_be_visible(timeout=10_000)
    with page.expect_download() as info:
        link.click()
    assert firm_names_in(Path(info.value.path()).read_bytes()) == set(FIRMS["临平街道"])


def test_supervisor_builds_a_pack_and_a_street_office_gets_its_street(
    page: Page, base_url: str, live_app: Flask, export_folder: Path
) -> None:
    login(page, base_url, SUPERVISOR)
    page.goto(f"{base_url}/exports/")
    page.locator("#quarter").fill("2026Q4")
    with page.expect_navigation():
        page.get_by_test_id("request-pack").click()
    expect(page.locator(".alert-success")).to_be_visible()
    run_scheduler_job(live_app)
    zip_link = page.get_by_role("link", name="临平新城_2026Q4_分街道名录.zip")
    expect(zip_link).to_be_visible(timeout=10_000)
    with page.expect_download() as info:
        zip_link.click()
    with zipfile.ZipFile(info.value.path()) as archive:
        assert sorted(archive.namelist()) == sorted(f"{street}_2026Q4_企业分类名录.xlsx" for street in FIRMS)

    page.context.clear_cookies()
    login(page, base_url, "district_a")
    page.goto(f"{base_url}/exports/")
    with live_app.app_context():
        pack_id = db.session.scalars(db.select(ExportPack.id).order_by(ExportPack.id.desc())).first()
        db.session.remove()
    row = page.get_by_test_id(f"pack-{pack_id}")
    expect(row.get_by_role("link")).to_have_text(["临平街道_2026Q4_企业分类名录.xlsx"])  # no zip, no other street
    with page.expect_download() as info:
        row.get_by_role("link").click()
    assert firm_names_in(Path(info.value.path()).read_bytes()) == set(FIRMS["临平街道"])
