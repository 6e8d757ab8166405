"""The rows of "My follow-ups", written in Python: the list shows 50 rows of seven cells, and
rendering them through Jinja (a context call, an attribute lookup and an escape per value) was
about half of the page's time. Every value is escaped here as the template would escape it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

from ..firms.rows import tier_badge
from ..i18n import TIER_LABELS, gettext, translated
from ..navigation import link_before_id


def followup_rows_html(rows: Iterable[Any], today: dt.date) -> Markup:
    """`<tr>`s for follow-up rows (id, firm_id, firm_name, tier, due_date, base_date,
    street_name, officer_label), or one row saying there is nothing."""
    tier_names = translated(TIER_LABELS)
    log_visit = escape(gettext("Log visit"))
    firm_link = escape(link_before_id("firms.detail", "firm_id"))
    followup_link = escape(link_before_id("followups.detail", "followup_id"))
    html = []
    for row in rows:
        late = ""
        if row.due_date < today:
            days = gettext("%(n)s days late", n=(today - row.due_date).days)
            late = f' <span class="badge text-bg-danger">{escape(days)}</span>'
        tier = tier_badge(row.tier, tier_names)
        html.append(
            '<tr data-testid="followup-row">'
            f'<td class="text-nowrap{" text-danger fw-semibold" if late else ""}">{row.due_date.isoformat()}{late}</td>'
            f'<td><a href="{firm_link}{int(row.firm_id)}">{escape(row.firm_name)}</a></td>'
            f"<td>{tier}</td>"
            f"<td>{escape(row.street_name)}</td>"
            f"<td>{escape(row.officer_label or '—')}</td>"
            f'<td class="text-nowrap small text-muted">{row.base_date.isoformat()}</td>'
            f'<td class="text-end"><a class="btn btn-sm btn-outline-primary" href="{followup_link}{int(row.id)}">'
            f"{log_visit}</a></td></tr>"
        )
    if not html:
        nothing = escape(gettext("Nothing here."))
        html.append(f'<tr><td colspan="7" class="text-muted">{nothing}</td></tr>')
    return Markup("\n".join(html))  # noqa: S704 - every value above is escaped or an int or a date
