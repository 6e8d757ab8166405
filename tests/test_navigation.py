"""The menu at the top of every page: rendered once per role, language and section, and still the
right menu for each of them."""

from __future__ import annotations

import re

import pytest

MENU = re.compile(r'<ul class="navbar-nav me-auto">(.*?)</ul>', re.S)


def menu_of(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    found = MENU.search(response.get_data(as_text=True))
    assert found, "no menu on the page"
    return found.group(1)


def active_link(menu: str) -> str:
    return re.findall(r'class="nav-link active" href="([^"]+)"', menu)[0]


@pytest.mark.parametrize(
    ("username", "shown", "hidden"),
    [
        ("admin", ["/admin/users", "/tiers/proposals", "/roster/imports"], ["/tiers/transitions"]),
        ("supervisor", ["/tiers/proposals", "/followups/"], ["/admin/users"]),
        ("officer_a", ["/roster/imports", "/followups/", "/tiers/transitions"], ["/admin/users", "/tiers/proposals"]),
        ("district_a", ["/firms/", "/tiers/transitions"], ["/roster/imports", "/followups/", "/admin/users"]),
    ],
)
def test_each_role_sees_its_own_menu(client, auth, world, username, shown, hidden):
    auth.enter(username)
    menu = menu_of(client, "/firms/")
    for path in shown:
        assert f'href="{path}"' in menu
    for path in hidden:
        assert f'href="{path}"' not in menu


def test_the_pages_section_is_marked_and_a_kept_menu_is_not_reused_for_another(client, auth, world):
    auth.enter("admin")
    assert active_link(menu_of(client, "/firms/")) == "/firms/"
    assert active_link(menu_of(client, "/followups/")) == "/followups/"
    assert active_link(menu_of(client, "/followups/settings")) == "/followups/settings"
    assert active_link(menu_of(client, "/firms/")) == "/firms/"  # kept from the first request, still right


def test_the_menu_follows_the_language(client, auth, world):
    auth.enter("officer_a")
    assert ">企业<" in menu_of(client, "/firms/")
    client.post("/language", data={"lang": "en", "next": "/firms/"})
    english = menu_of(client, "/firms/")
    assert ">Firms<" in english and ">企业<" not in english
    client.post("/language", data={"lang": "zh_CN", "next": "/firms/"})
    assert ">企业<" in menu_of(client, "/firms/")


def test_a_menu_is_rendered_once_per_combination(app, client, auth, world):
    auth.enter("supervisor")
    app.extensions.pop("navigation", None)
    for _ in range(3):
        menu_of(client, "/firms/")
    menu_of(client, "/followups/")
    kept = app.extensions["navigation"]
    assert sorted(key[2] for key in kept) == ["firms", "followups"]  # two sections, one menu each


def test_row_links_are_the_links_url_for_makes(app):
    from flask import url_for

    from service_app.navigation import link_before_id

    with app.test_request_context("/"):
        assert link_before_id("firms.detail", "firm_id") + "42" == url_for("firms.detail", firm_id=42)
        assert link_before_id("followups.detail", "followup_id") + "7" == url_for("followups.detail", followup_id=7)
        with pytest.raises(ValueError, match="does not end with"):
            link_before_id("followups.visit", "followup_id")  # /followups/<id>/visit


def test_page_links_keep_the_lists_arguments_and_replace_the_page(app):
    from urllib.parse import parse_qs, urlsplit

    from service_app.pagination import page_links

    with app.test_request_context("/firms/?q=基准 01&flag=is_listed&flag=above_scale&page=3&sort=name"):
        links = page_links("firms.index", [1, 2, 9])
    assert set(links) == {1, 2, 9}
    url = urlsplit(links[9])
    assert url.path == "/firms/"
    assert parse_qs(url.query) == {
        "q": ["基准 01"],
        "flag": ["is_listed", "above_scale"],
        "sort": ["name"],
        "page": ["9"],
    }


def test_the_pager_links_every_page_it_shows(client, auth, world, app):
    from service_app.extensions import db
    from tests import factories

    with app.app_context():
        street = db.session.get(factories.Street, world.street_a)
        for n in range(60):
            factories.make_firm(street, name=f"杭州分页测试{n:02d}有限公司")
        db.session.commit()
    auth.enter("admin")
    page = client.get("/firms/?q=分页测试&page=2").get_data(as_text=True)
    pager = page[page.index('<ul class="pagination') :]
    hrefs = re.findall(r'class="page-link" href="([^"]+)"', pager)
    assert hrefs[0].endswith("page=1") and hrefs[-1].endswith("page=3")  # Previous, Next
    assert all("q=%E5%88%86%E9%A1%B5%E6%B5%8B%E8%AF%95" in href for href in hrefs)
    assert client.get(hrefs[-1].replace("&amp;", "&")).status_code == 200
