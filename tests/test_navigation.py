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
