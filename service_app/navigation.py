"""The menu at the top of every page, rendered once per worker for each role, language and section.

The menu holds some twenty links and labels; building them (url_for and a translation each) cost
about a twentieth of every page's time. It depends only on the user's role, the language, the
page's section and the app's URL prefix, so each combination is rendered once and kept.
"""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_login import current_user
from markupsafe import Markup

from .i18n import locale_code

#: Far more than the combinations there are (4 roles × 2 languages × some 20 sections): a bound,
#: not a size to tune, in case a proxy's URL prefix varies.
MAX_KEPT = 2000


def navigation() -> Markup:
    """The signed-in user's menu for this page (templates/_nav.html)."""
    endpoint = request.endpoint if request.endpoint == "followups.settings" else None
    key = (current_user.role.value, locale_code(), request.blueprint, endpoint, request.script_root)
    kept: dict[tuple[str | None, ...], Markup] = current_app.extensions.setdefault("navigation", {})
    menu = kept.get(key)
    if menu is None:
        if len(kept) >= MAX_KEPT:
            kept.clear()
        template = current_app.jinja_env.get_template("_nav.html")
        # An autoescaped template's output is already safe HTML.
        menu = kept[key] = Markup(template.render(role=key[0], blueprint=key[2], endpoint=endpoint))  # noqa: S704
    return menu


#: An id no row has, to find where the id goes in a URL.
_PLACEHOLDER = 987654321


def link_before_id(endpoint: str, id_argument: str) -> str:
    """The URL of `endpoint` up to its trailing id, for a list that links each of its rows:
    `link_before_id("firms.detail", "firm_id") ~ firm.id` is url_for's link without a url_for
    call per row. Refuses an endpoint whose URL does not end with that id."""
    values: dict[str, object] = {id_argument: _PLACEHOLDER}
    url = url_for(endpoint, **values)  # type: ignore[arg-type]
    if not url.endswith(str(_PLACEHOLDER)):
        raise ValueError(f"{endpoint}: its URL does not end with {id_argument}")
    return url.removesuffix(str(_PLACEHOLDER))
