"""Language choice and the translated labels of the domain's vocabularies."""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import Any

import flask_babel
from babel import Locale
from babel.support import NullTranslations
from flask import (
    Flask,
    appcontext_popped,
    appcontext_pushed,
    current_app,
    g,
    has_app_context,
    has_request_context,
    session,
)
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import Markup

from .domain.followups import (
    ExitCheck,
    FollowupStatus,
    RequestCategory,
    RequestStatus,
    Satisfaction,
    Urgency,
    VisitKind,
)
from .domain.tiers import Chain, FirmStatus, Role, Tier
from .models.imports import ImportMode, ImportStatus

#: This app context's catalogue, found at its first translation. A context variable, since every
#: translation reads it: through `g` it cost a context lookup each, about sixty to a page.
_CATALOGUE: ContextVar[NullTranslations | None] = ContextVar("catalogue", default=None)


def catalogue() -> NullTranslations:
    """This request's translations, looked up once per request (once per app context).

    Flask-Babel finds the locale and its catalogue again for every string it translates (a
    few context lookups each); a page translates a hundred strings, which made translation
    a fifth of a page's time.
    """
    found = _CATALOGUE.get()
    if found is None:
        found = flask_babel.get_translations()
        if has_app_context():
            _CATALOGUE.set(found)
    return found


def _forget_catalogue(_app: Flask, **_extra: Any) -> None:
    """An app context begins or ends: the next translation looks its catalogue up again."""
    _CATALOGUE.set(None)


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's gettext on the request's cached catalogue."""
    text = catalogue().ugettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """A label translated when shown, in the language of the request showing it."""
    return LazyString(gettext, string, **variables)


_l = lazy_gettext


def install_template_gettext(app: Flask) -> None:
    """Templates translate through the request's cached catalogue (after Flask-Babel's init)."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: catalogue().ugettext(s),
        ngettext=lambda s, p, n: catalogue().ungettext(s, p, n),
        pgettext=lambda c, s: catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalogue().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals["_"] = template_gettext
    appcontext_pushed.connect(_forget_catalogue, app)
    appcontext_popped.connect(_forget_catalogue, app)


def template_gettext(string: str, /, **variables: Any) -> Markup:
    """Templates' `_()`: what Jinja's newstyle gettext makes in an autoescaped template (the
    translation as trusted markup, the variables escaped into it by `%`), in one call where
    Jinja's alias took three; a page translates some sixty strings."""
    text = catalogue().ugettext(string)
    if not variables and "%" not in text:
        return Markup(text)  # noqa: S704 - the catalogue is ours; nothing to put in
    return Markup(text) % variables  # noqa: S704 - the catalogue is ours


TIER_LABELS = {
    Tier.KEY: _l("Key service"),
    Tier.CULTIVATE: _l("Cultivation"),
    Tier.OBSERVE: _l("Observation"),
    Tier.EXIT: _l("Exit tracking"),
}
CHAIN_LABELS = {
    Chain.FASHION: _l("Digital fashion"),
    Chain.TRADE: _l("Digital trade"),
    Chain.TECH: _l("Digital tech"),
    Chain.OTHER: _l("Other"),
}
STATUS_LABELS = {
    FirmStatus.ACTIVE: _l("Active"),
    FirmStatus.RELOCATING: _l("Relocating"),
    FirmStatus.DEREGISTERED: _l("Deregistered"),
}
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.OFFICER: _l("Service officer"),
    Role.DISTRICT: _l("Street office viewer"),
}
#: The flag columns of a firm and their labels, in display order.
FLAG_LABELS = {
    "above_scale": _l("Above designated size"),
    "is_high_tech": _l("High-tech enterprise"),
    "is_specialised": _l("Specialised and innovative (SRDI)"),
    "is_listed": _l("Listed"),
    "is_chain_leader": _l("Chain leader"),
    "is_abnormal": _l("Abnormal-operation list"),
    "has_serious_violation": _l("Serious violation"),
}
#: Labels of firm fields, for the audit trail and stale-edit messages.
FIELD_LABELS = {
    "credit_code": _l("Unified social credit code"),
    "credit_code_exception": _l("Reason for accepting the code"),
    "registration_number": _l("Old registration number"),
    "name": _l("Firm name"),
    "chain": _l("Industry chain"),
    "industry_code": _l("Industry code"),
    "street_id": _l("Street"),
    "building_id": _l("Building"),
    "established": _l("Established"),
    "registered_capital": _l("Registered capital (10k CNY)"),
    "status": _l("Status"),
    "contact_name": _l("Contact person"),
    "contact_phone": _l("Contact phone"),
    "notes": _l("Notes"),
    "officer_id": _l("Service officer"),
    "current_tier": _l("Service tier"),
    **FLAG_LABELS,
}
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
IMPORT_STATUS_LABELS = {
    ImportStatus.PREVIEWED: _l("Waiting for confirmation"),
    ImportStatus.APPLYING: _l("Importing…"),
    ImportStatus.APPLIED: _l("Imported"),
    ImportStatus.FAILED: _l("Failed"),
    ImportStatus.UNDONE: _l("Undone"),
    ImportStatus.DISCARDED: _l("Discarded"),
}
MODE_LABELS = {
    ImportMode.UPSERT: _l("Add new firms and update existing ones"),
    ImportMode.CREATE: _l("Only add new firms"),
    ImportMode.UPDATE: _l("Only update existing firms"),
}
ACTION_LABELS = {"created": _l("Create"), "updated": _l("Update"), "unchanged": _l("No change")}
METRIC_LABELS = {
    "revenue": _l("Revenue (10k CNY)"),
    "tax": _l("Tax (10k CNY)"),
    "employees": _l("Employees"),
    "rd_spend": _l("R&D spend (10k CNY)"),
    "floor_area_m2": _l("Floor area (m²)"),
    "land_mu": _l("Land (mu)"),
}


def locale_code() -> str:
    """The session's choice, else the user's saved one, else Chinese."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI and the scheduler speak the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@functools.cache
def _parsed_locale(code: str) -> Locale:
    return Locale.parse(code)


def select_locale() -> Locale:
    """Flask-Babel's locale selector: `locale_code()`, parsed once per process (Flask-Babel
    parses a string on every request, and Babel's parse scans every locale it knows)."""
    return _parsed_locale(locale_code())


def select_timezone() -> str:
    """Everyone works on Beijing time."""
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


CHANGE_LABELS = {"up": _l("Up"), "down": _l("Down"), "new": _l("New"), "same": _l("Same")}
INDICATOR_LABELS = {
    "tax_per_area": _l("Tax per unit of space"),
    "revenue_ttm": _l("Revenue, last four quarters"),
    "revenue_growth": _l("Revenue growth"),
    "tax_growth": _l("Tax growth"),
    "rd_intensity": _l("R&D intensity"),
    "productivity": _l("Labour productivity"),
}
RULE_LABELS = {
    "override": _l("1. A supervisor's override in force"),
    "forced_exit": _l("2. Exit: deregistered, relocating, or no revenue two quarters running"),
    "forced_key": _l("3. Key: listed, chain leader, or revenue at the key threshold"),
    "veto": _l("4. Veto: abnormal operation or serious violation is never key or cultivation"),
    "protection": _l("5. Protection: firms under two years old or newly above size are never exit"),
    "insufficient_data": _l("6. Too little data: keep the current tier"),
}
PROPOSAL_STATUS_LABELS = {"draft": _l("Under review"), "applied": _l("Approved"), "discarded": _l("Discarded")}
VISIT_KIND_LABELS = {VisitKind.ONSITE: _l("On site"), VisitKind.PHONE: _l("Phone"), VisitKind.ONLINE: _l("Online")}
FOLLOWUP_STATUS_LABELS = {
    FollowupStatus.OPEN: _l("Open"),
    FollowupStatus.DONE: _l("Done"),
    FollowupStatus.CANCELLED: _l("Cancelled"),
}
EXIT_CHECK_LABELS = {
    ExitCheck.PLAN: _l("Relocation or closure plan"),
    ExitCheck.TAX: _l("Tax clearance"),
    ExitCheck.LEASE: _l("Lease end"),
    ExitCheck.DEREGISTRATION: _l("Deregistration"),
}
REQUEST_CATEGORY_LABELS = {
    RequestCategory.IP: _l("IP protection"),
    RequestCategory.UNIVERSITY: _l("University and institute cooperation"),
    RequestCategory.TECH_TRANSFER: _l("Technology transfer"),
    RequestCategory.MENTOR: _l("Startup mentor"),
    RequestCategory.FINANCING: _l("Financing"),
    RequestCategory.TALENT: _l("Talent"),
    RequestCategory.SPACE: _l("Space and land"),
    RequestCategory.POLICY: _l("Policy"),
    RequestCategory.OTHER: _l("Other"),
}
REQUEST_STATUS_LABELS = {
    RequestStatus.RECEIVED: _l("Received"),
    RequestStatus.ASSIGNED: _l("Assigned"),
    RequestStatus.IN_PROGRESS: _l("In progress"),
    RequestStatus.RESOLVED: _l("Resolved"),
    RequestStatus.REVISITED: _l("Called back"),
    RequestStatus.CLOSED: _l("Closed"),
}
URGENCY_LABELS = {Urgency.NORMAL: _l("Normal"), Urgency.URGENT: _l("Urgent")}
SATISFACTION_LABELS = {
    Satisfaction.SATISFIED: _l("Satisfied"),
    Satisfaction.MOSTLY: _l("Mostly satisfied"),
    Satisfaction.DISSATISFIED: _l("Dissatisfied"),
}


def translated(labels: dict[Any, Any]) -> dict[Any, str]:
    """A label table translated once for this request, for templates that show a label per row."""
    if not has_app_context():
        return {key: str(label) for key, label in labels.items()}
    done = g.setdefault("_translated_labels", {})
    key = (id(labels), id(catalogue()))
    if key not in done:
        done[key] = {name: str(label) for name, label in labels.items()}
    return done[key]


#: Label tables templates and macros use as Jinja globals.
TEMPLATE_GLOBALS = {
    "translated": translated,
    "TIER_LABELS": TIER_LABELS,
    "CHAIN_LABELS": CHAIN_LABELS,
    "STATUS_LABELS": STATUS_LABELS,
    "ROLE_LABELS": ROLE_LABELS,
    "FLAG_LABELS": FLAG_LABELS,
    "LANGUAGE_NAMES": LANGUAGE_NAMES,
    "FIELD_LABELS": FIELD_LABELS,
    "IMPORT_STATUS_LABELS": IMPORT_STATUS_LABELS,
    "MODE_LABELS": MODE_LABELS,
    "ACTION_LABELS": ACTION_LABELS,
    "METRIC_LABELS": METRIC_LABELS,
    "CHANGE_LABELS": CHANGE_LABELS,
    "INDICATOR_LABELS": INDICATOR_LABELS,
    "RULE_LABELS": RULE_LABELS,
    "PROPOSAL_STATUS_LABELS": PROPOSAL_STATUS_LABELS,
    "VISIT_KIND_LABELS": VISIT_KIND_LABELS,
    "FOLLOWUP_STATUS_LABELS": FOLLOWUP_STATUS_LABELS,
    "EXIT_CHECK_LABELS": EXIT_CHECK_LABELS,
    "REQUEST_CATEGORY_LABELS": REQUEST_CATEGORY_LABELS,
    "REQUEST_STATUS_LABELS": REQUEST_STATUS_LABELS,
    "URGENCY_LABELS": URGENCY_LABELS,
    "SATISFACTION_LABELS": SATISFACTION_LABELS,
}


def template_context() -> dict[str, Any]:
    """Per-request values every template may use."""
    context: dict[str, Any] = {
        "current_locale": locale_code(),
        "platform_name": current_app.config["PLATFORM_NAME"],
        "unread_notifications": 0,
    }
    if has_request_context() and current_user.is_authenticated:
        from .notify import unread_count

        context["unread_notifications"] = unread_count(current_user)
    return context
