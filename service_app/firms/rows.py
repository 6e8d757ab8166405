"""The rows of the firm list, written in Python: 25 rows of seven cells rendered through Jinja (a
context call, an attribute lookup and an escape per value) were a third of the list's rendering.
Every value is escaped here as the template would escape it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from ..domain.tiers import Tier
from ..i18n import CHAIN_LABELS, STATUS_LABELS, TIER_LABELS, gettext, translated
from ..navigation import link_before_id


def tier_badge(tier: Tier, names: Mapping[Tier, str]) -> str:
    """A tier's badge, as _macros.html's tier_badge writes it (`names`: i18n.translated(TIER_LABELS))."""
    return f'<span class="badge tier-badge tier-{escape(tier.value)}">{escape(names[tier])}</span>'


def firm_rows_html(rows: Iterable[Any], street_names: Mapping[int, str], building_names: Mapping[int, str]) -> Markup:
    """`<tr>`s for the list's rows (firms.services.LIST_COLUMNS)."""
    tier_names, chain_names = translated(TIER_LABELS), translated(CHAIN_LABELS)
    status_names = translated(STATUS_LABELS)
    not_assessed = escape(gettext("Not assessed"))  # not inside the f-string, where extraction would not see it
    unassessed = f'<span class="badge tier-badge tier-none">{not_assessed}</span>'
    firm_link = escape(link_before_id("firms.detail", "firm_id"))
    html = []
    for firm in rows:
        tier = firm.current_tier
        badge = tier_badge(tier, tier_names) if tier else unassessed
        chain = escape(chain_names[firm.chain]) if firm.chain else "—"
        building = escape(building_names[firm.building_id]) if firm.building_id else "—"
        html.append(
            "<tr>"
            f'<td class="firm-name"><a href="{firm_link}{int(firm.id)}">{escape(firm.name)}</a></td>'
            f"<td><code>{escape(firm.credit_code)}</code></td>"
            f"<td>{badge}</td><td>{chain}</td><td>{escape(street_names[firm.street_id])}</td>"
            f"<td>{building}</td><td>{escape(status_names[firm.status])}</td></tr>"
        )
    return Markup("\n".join(html))  # noqa: S704 - every value above is escaped or an int
