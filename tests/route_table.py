"""Every route of the app and who may use it: the table the security sweeps read.

tests/test_route_sweep.py walks `app.url_map` and fails for any route missing here, so a new page
is declared before it ships. To add a route:

* a GET page: an entry in PAGES, `endpoint: Page(statuses)`, statuses in ROLES order (anonymous,
  officer, district, supervisor, admin), with `other=` when the page shows one object of a street
  (the statuses on street B's object, which the officer and the street office do not cover), and
  `html=False` for downloads;
* a POST action: an entry in ACTIONS, `endpoint: Action(roles that may post)`;
* a route argument no route had before (say `building_id`): its value in tests/samples.py, in
  `Samples.own` and `Samples.other`.

URL values come from the samples by argument name; `args` overrides or adds some (extra names
become the query string). `variants` are more URLs of the same route on street A's objects that
answer as `statuses` do: every chart of a chart route, a page's download (`format=xlsx`), a
report of all the user's streets (`street=None` drops the street).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, url_for
from werkzeug.routing import Rule

from service_app.buildings.routes import LIST_CHARTS
from service_app.dashboard.charts import CHARTS

from .samples import ROLES

Statuses = tuple[int, int, int, int, int]
Values = dict[str, Any]

#: Anyone, signed in or not.
PUBLIC: Statuses = (200, 200, 200, 200, 200)
#: Every signed-in user; the anonymous visitor is sent to the sign-in page.
SIGNED_IN: Statuses = (302, 200, 200, 200, 200)
#: Service officers, supervisors and admins; not the street office (read-only viewer).
WORKERS: Statuses = (302, 200, 403, 200, 200)
#: Supervisors and admins.
MANAGERS: Statuses = (302, 403, 403, 200, 200)
#: Admins only.
ADMINS: Statuses = (302, 403, 403, 403, 200)
#: Another street's object: outside the officer's and the street office's streets, so not found.
OTHER_STREET: Statuses = (302, 404, 404, 200, 200)
#: Another street's object on a page the street office may not open at all.
OTHER_STREET_WORKERS: Statuses = (302, 404, 403, 200, 200)


@dataclass(frozen=True)
class Page:
    """A GET route: the status each role gets, on street A's object and (`other`) on street B's."""

    statuses: Statuses
    other: Statuses | None = None
    args: Callable[[Values], Values] | None = None
    html: bool = True
    variants: tuple[Values, ...] = ()

    def expected(self) -> dict[str, int]:
        """Status by role name."""
        return dict(zip(ROLES, self.statuses, strict=True))

    def url(self, app: Flask, endpoint: str, values: Values) -> str:
        """This page's URL for the objects in `values` (Samples.own or Samples.other)."""
        return build_url(app, endpoint, values, self.args(values) if self.args else None)

    def variant_urls(self, app: Flask, endpoint: str, values: Values) -> list[str]:
        """The URLs of the variants for the objects in `values` (Samples.own)."""
        chosen = self.args(values) if self.args else {}
        return [build_url(app, endpoint, values, chosen | variant) for variant in self.variants]


@dataclass(frozen=True)
class Action:
    """A POST route: the roles that may post (others get 403 or 404, the anonymous visitor the
    sign-in page), and any URL values of its own."""

    roles: frozenset[str]
    args: Callable[[Values], Values] | None = None
    public: bool = False  # the anonymous visitor may post too (sign in, language)

    def url(self, app: Flask, endpoint: str, values: Values) -> str:
        """This action's URL for the objects in `values`."""
        return build_url(app, endpoint, values, self.args(values) if self.args else None)


EVERYONE = frozenset(ROLES) - {"anonymous"}
WORKER_ROLES = frozenset({"officer", "supervisor", "admin"})
MANAGER_ROLES = frozenset({"supervisor", "admin"})
ADMIN_ROLES = frozenset({"admin"})
#: An import batch may be confirmed, remapped, discarded or undone by its uploader (the officer) or an admin.
UPLOADER_ROLES = frozenset({"officer", "admin"})


def _my_export(values: Values) -> Values:
    return {"pack_id": values["export_id"]}


def _pack_street(values: Values) -> Values:
    return {"street_id": values["pack_street_id"]}


def _for_firm(values: Values) -> Values:
    return {"firm_id": values["firm_id"]}


def _list_chart(values: Values) -> Values:
    return {"name": "ranking"}


def _building_chart(values: Values) -> Values:
    return {"name": "trend"}


#: Every chart of the dashboard, of the buildings list and of a building.
DASHBOARD_CHARTS = tuple({"name": name} for name in CHARTS)
RANKING_CHARTS = tuple({"name": name} for name in LIST_CHARTS)
BUILDING_CHARTS = ({"name": "tiers"}, {"name": "trend"})


def _in_street(values: Values) -> Values:
    return {"street": values["street_id"]}


def _from_officer(values: Values) -> Values:
    return {"source": values["officer_id"]}


PAGES: dict[str, Page] = {
    # main
    "main.healthz": Page(PUBLIC, html=False),
    "main.notifications": Page(SIGNED_IN),
    "static": Page(PUBLIC, html=False),
    # auth: a signed-in user asking for the sign-in page is sent on
    "auth.login": Page((200, 302, 302, 302, 302)),
    # admin
    "admin.users": Page(ADMINS),
    "admin.new_user": Page(ADMINS),
    "admin.edit_user": Page(ADMINS),
    # firms
    "firms.index": Page(SIGNED_IN),
    "firms.create": Page(MANAGERS),
    "firms.detail": Page(SIGNED_IN, other=OTHER_STREET),
    "firms.edit": Page(WORKERS, other=OTHER_STREET),
    # follow-ups
    "followups.index": Page(WORKERS),
    "followups.calendar": Page(WORKERS),
    "followups.detail": Page(WORKERS, other=OTHER_STREET_WORKERS),
    "followups.feed_settings": Page(WORKERS),
    "followups.calendar_feed": Page(PUBLIC, html=False),  # the secret in the URL is the key
    "followups.move_firms": Page(MANAGERS),
    "followups.settings": Page(ADMINS),
    # requests
    "firm_requests.index": Page(WORKERS),
    "firm_requests.new": Page(WORKERS, other=OTHER_STREET_WORKERS, args=_for_firm),
    "firm_requests.detail": Page(WORKERS, other=OTHER_STREET_WORKERS),
    # roster import: own batches only, except for supervisors and admins
    "roster.imports": Page(WORKERS),
    "roster.batch": Page(WORKERS, other=OTHER_STREET_WORKERS),
    "roster.errors_report": Page(WORKERS, other=OTHER_STREET_WORKERS, html=False),
    # tiers
    "tiers.proposals": Page(MANAGERS),
    "tiers.proposal": Page(MANAGERS),
    "tiers.rules": Page(ADMINS),
    "tiers.transitions": Page(SIGNED_IN),
    # exports: a background list download is its requester's (the officer's) alone; the zip is for
    # users who see every street; a street's workbook for users who cover the street
    "exports.index": Page(SIGNED_IN),
    "exports.roster": Page(SIGNED_IN, html=False),
    "exports.my_export": Page((302, 200, 404, 404, 404), args=_my_export, html=False),
    "exports.pack_zip": Page((302, 404, 404, 200, 200), html=False),
    "exports.pack_street": Page(SIGNED_IN, other=OTHER_STREET, args=_pack_street, html=False),
    # dashboard: the home page and its charts within the user's streets; the targets are an admin's
    "dashboard.index": Page(SIGNED_IN),
    "dashboard.chart_data": Page(SIGNED_IN, html=False, variants=DASHBOARD_CHARTS),
    "dashboard.chart_xlsx": Page(SIGNED_IN, html=False, variants=DASHBOARD_CHARTS),
    "dashboard.targets": Page(ADMINS),
    "dashboard.edit_target": Page(ADMINS),
    # buildings: those of the user's streets; another street's building does not exist
    "buildings.index": Page(SIGNED_IN, variants=({"format": "xlsx"},)),
    "buildings.chart_data": Page(SIGNED_IN, args=_list_chart, html=False, variants=RANKING_CHARTS),
    "buildings.chart_xlsx": Page(SIGNED_IN, args=_list_chart, html=False, variants=RANKING_CHARTS),
    "buildings.detail": Page(SIGNED_IN, other=OTHER_STREET),
    "buildings.building_chart_data": Page(
        SIGNED_IN, other=OTHER_STREET, args=_building_chart, html=False, variants=BUILDING_CHARTS
    ),
    "buildings.building_chart_xlsx": Page(
        SIGNED_IN, other=OTHER_STREET, args=_building_chart, html=False, variants=BUILDING_CHARTS
    ),
    # workload: every role within its streets (an officer its own row); moving firms is a manager's
    "workload.index": Page(SIGNED_IN),
    "workload.rebalance": Page(MANAGERS, other=MANAGERS, args=_from_officer),
    # the quarter report of one street (another street is not found) or of all the user's streets
    "reports.quarter": Page(SIGNED_IN, other=OTHER_STREET, args=_in_street, variants=({"street": None},)),
    "reports.quarter_xlsx": Page(
        SIGNED_IN, other=OTHER_STREET, args=_in_street, html=False, variants=({"street": None},)
    ),
}

ACTIONS: dict[str, Action] = {
    "auth.login": Action(EVERYONE, public=True),
    "auth.logout": Action(EVERYONE),
    "main.set_language": Action(EVERYONE, public=True),
    "main.read_notifications": Action(EVERYONE),
    "admin.new_user": Action(ADMIN_ROLES),
    "admin.edit_user": Action(ADMIN_ROLES),
    "firms.create": Action(MANAGER_ROLES),
    "firms.edit": Action(WORKER_ROLES),
    "followups.visit": Action(WORKER_ROLES),
    "followups.reschedule_view": Action(WORKER_ROLES),
    "followups.reassign": Action(MANAGER_ROLES),
    "followups.move_firms": Action(MANAGER_ROLES),
    "followups.feed_settings": Action(WORKER_ROLES),
    "followups.settings": Action(ADMIN_ROLES),
    "firm_requests.new": Action(WORKER_ROLES, args=_for_firm),
    "firm_requests.detail": Action(WORKER_ROLES),
    "roster.imports": Action(WORKER_ROLES),
    "roster.change_mapping": Action(UPLOADER_ROLES),
    "roster.confirm": Action(UPLOADER_ROLES),
    "roster.discard": Action(UPLOADER_ROLES),
    "roster.undo": Action(UPLOADER_ROLES),
    "tiers.proposals": Action(MANAGER_ROLES),
    "tiers.apply": Action(MANAGER_ROLES),
    "tiers.recompute": Action(MANAGER_ROLES),
    "tiers.discard": Action(MANAGER_ROLES),
    "tiers.override": Action(MANAGER_ROLES),
    "tiers.rules": Action(ADMIN_ROLES),
    "exports.request_pack_view": Action(MANAGER_ROLES),
    "exports.queue_roster": Action(EVERYONE),
    "dashboard.targets": Action(ADMIN_ROLES),
    "dashboard.edit_target": Action(ADMIN_ROLES),
    "dashboard.delete_target_view": Action(ADMIN_ROLES),
    "workload.rebalance_post": Action(MANAGER_ROLES, args=_from_officer),
}


def rules_by_endpoint(app: Flask, method: str) -> dict[str, Rule]:
    """The app's routes answering `method`, by endpoint."""
    return {rule.endpoint: rule for rule in app.url_map.iter_rules() if method in (rule.methods or ())}


def build_url(app: Flask, endpoint: str, values: Values, extra: Values | None = None) -> str:
    """The route's URL with the values its arguments name (`extra` overrides some or adds a query)."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    chosen = {name: values[name] for name in rule.arguments if name in values}
    chosen.update(extra or {})
    missing = sorted(set(rule.arguments) - set(chosen))
    assert not missing, f"{endpoint}: give {missing} a value in tests/samples.py (Samples.own and .other)"
    with app.test_request_context():
        return url_for(endpoint, **chosen)
