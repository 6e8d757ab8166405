"""Proposal review and approval, rule sets, and the transitions report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..domain.quarters import Quarter
from ..domain.scoring import INDICATORS, RULES, RuleSet, RuleSetError
from ..domain.tiers import Role, Tier
from ..extensions import db
from ..i18n import INDICATOR_LABELS, RULE_LABELS
from ..models import ProposalItem, ProposalStatus, RuleSetVersion, TierProposal
from ..permissions import roles_required
from ..scoping import firm_scope, visible_streets
from ..security import attachment_header, db_id, local_referrer
from . import bp
from .forms import OverrideForm, ProposeForm, rule_set_form
from .reports import transitions_workbook
from .services import (
    TierError,
    apply_proposal,
    current_rule_set,
    discard_proposal,
    is_stale,
    override_item,
    propose_tiers,
    quarter_transitions,
    recompute_proposal,
    review_query,
    save_rule_set,
    transition_matrix,
)

REVIEWERS = (Role.ADMIN, Role.SUPERVISOR)


def _proposal_or_404(proposal_id: int) -> TierProposal:
    return db.get_or_404(TierProposal, proposal_id)


def _fail(exc: TierError, proposal_id: int):
    db.session.rollback()
    flash(exc.message, "danger")
    return redirect(url_for(".proposal", proposal_id=proposal_id))


@bp.route("/proposals", methods=["GET", "POST"])
@roles_required(*REVIEWERS)
def proposals():
    """Every proposal, and computing one for a quarter."""
    form = ProposeForm()
    if request.method == "GET":
        form.quarter.data = Quarter.of(dt.date.today()).key
    if form.validate_on_submit():
        proposal = propose_tiers(Quarter.parse(form.quarter.data), current_user)
        db.session.commit()
        return redirect(url_for(".proposal", proposal_id=proposal.id))
    page = db.paginate(
        sa.select(TierProposal).order_by(TierProposal.id.desc()),
        page=request.args.get("page", 1, type=db_id),
        per_page=20,
        error_out=False,
    )
    return render_template("tiers/proposals.html", form=form, page=page)


@bp.route("/proposals/<int:proposal_id>")
@roles_required(*REVIEWERS)
def proposal(proposal_id: int):
    """Review: counts before and after, the transition matrix, and each firm's proposed tier and why."""
    proposal = _proposal_or_404(proposal_id)
    args = request.args
    filters: dict[str, Any] = {
        "street_id": args.get("street", type=db_id),
        "chain": args.get("chain", ""),
        "change": args.get("change", ""),
        "current": args.get("current", ""),
        "final": args.get("final", ""),
        "q": args.get("q", "")[:100].strip(),
    }
    page = db.paginate(
        review_query(proposal, **filters), page=args.get("page", 1, type=db_id), per_page=30, error_out=False
    )
    matrix = transition_matrix(proposal)
    before = {tier: sum(row.get(col, 0) for col in row) for tier, row in matrix.items()}
    return render_template(
        "tiers/proposal.html",
        proposal=proposal,
        page=page,
        filters=filters,
        matrix=matrix,
        before=before,
        stale=proposal.status == ProposalStatus.DRAFT and is_stale(proposal),
        streets=visible_streets(current_user),
        tiers=list(Tier),
        override_form=OverrideForm(),
    )


@bp.route("/proposals/<int:proposal_id>/apply", methods=["POST"])
@roles_required(*REVIEWERS)
def apply(proposal_id: int):
    """Approve the proposal (supervisors and admins)."""
    proposal = _proposal_or_404(proposal_id)
    try:
        counts = apply_proposal(proposal, current_user)
        db.session.commit()
    except TierError as exc:
        return _fail(exc, proposal_id)
    flash(
        _("Approved: %(firms)s firms tiered for %(quarter)s, %(changed)s changed.", quarter=proposal.quarter, **counts),
        "success",
    )
    return redirect(url_for(".proposal", proposal_id=proposal_id))


@bp.route("/proposals/<int:proposal_id>/recompute", methods=["POST"])
@roles_required(*REVIEWERS)
def recompute(proposal_id: int):
    """Discard the draft and compute it again from today's data."""
    proposal = _proposal_or_404(proposal_id)
    try:
        fresh = recompute_proposal(proposal, current_user)
        db.session.commit()
    except TierError as exc:
        return _fail(exc, proposal_id)
    flash(_("Recomputed from the current data."), "success")
    return redirect(url_for(".proposal", proposal_id=fresh.id))


@bp.route("/proposals/<int:proposal_id>/discard", methods=["POST"])
@roles_required(*REVIEWERS)
def discard(proposal_id: int):
    """Drop a draft proposal."""
    proposal = _proposal_or_404(proposal_id)
    try:
        discard_proposal(proposal, current_user)
        db.session.commit()
    except TierError as exc:
        return _fail(exc, proposal_id)
    flash(_("The proposal was discarded."), "info")
    return redirect(url_for(".proposals"))


@bp.route("/proposals/<int:proposal_id>/items/<int:item_id>/override", methods=["POST"])
@roles_required(*REVIEWERS)
def override(proposal_id: int, item_id: int):
    """Set one firm's tier by hand, with a reason and an optional expiry quarter."""
    item = db.session.get(ProposalItem, item_id)
    if item is None or item.proposal_id != proposal_id:
        abort(404)
    form = OverrideForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(str(errors[0]), "danger")
        return redirect(local_referrer(url_for(".proposal", proposal_id=proposal_id)))
    try:
        override_item(item, Tier(form.tier.data), form.reason.data, form.expiry.data or None, current_user)
        db.session.commit()
    except TierError as exc:
        return _fail(exc, proposal_id)
    flash(_("Override saved."), "success")
    return redirect(url_for(".proposal", proposal_id=proposal_id, q=item.firm.credit_code))


@bp.route("/rules", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def rules():
    """Edit the scoring rules; each save is a new, checked version."""
    form_class = rule_set_form(
        {k: str(v) for k, v in INDICATOR_LABELS.items()}, {k: str(v) for k, v in RULE_LABELS.items()}
    )
    current = current_rule_set()
    settings = RuleSet.from_dict(current.settings)
    form = form_class()
    if request.method == "GET":
        form.cap.data, form.key_revenue_threshold.data = settings.cap, settings.key_revenue_threshold
        form.min_pool_size.data, form.hysteresis.data = settings.min_pool_size, settings.hysteresis
        for name in INDICATORS:
            form[f"weight_{name}"].data = settings.weights[name]
        for tier, share in settings.bands.items():
            form[f"band_{tier}"].data = share
        for rule in RULES:
            form[f"rule_{rule}"].data = settings.rules[rule]
    if form.validate_on_submit():
        proposed = RuleSet(
            weights={n: float(form[f"weight_{n}"].data) for n in INDICATORS},
            cap=float(form.cap.data),
            bands={t: float(form[f"band_{t}"].data) for t in ("key", "cultivate", "observe", "exit")},
            key_revenue_threshold=float(form.key_revenue_threshold.data),
            rules={r: bool(form[f"rule_{r}"].data) for r in RULES},
            min_pool_size=int(form.min_pool_size.data),
            hysteresis=bool(form.hysteresis.data),
        )
        try:
            version = save_rule_set(proposed, form.note.data, current_user)
            db.session.commit()
        except RuleSetError as exc:
            db.session.rollback()
            flash(_("Not saved: %(why)s", why=RULE_SET_MESSAGES.get(str(exc), str(exc))), "danger")
        else:
            flash(_("Saved as version %(n)s; the next proposal uses it.", n=version.version), "success")
            return redirect(url_for(".rules"))
    versions = db.session.scalars(sa.select(RuleSetVersion).order_by(RuleSetVersion.version.desc()).limit(20)).all()
    return render_template(
        "tiers/rules.html", form=form, current=current, versions=versions, indicators=INDICATORS, rules=RULES
    )


RULE_SET_MESSAGES = {
    "weights cannot be negative": "权重不能为负数",
    "at least one weight must be above zero": "至少有一项权重大于零",
    "bands must add up to 100%": "四档比例之和必须为 100%",
    "the cap must be between 1 and 10": "封顶倍数应在 1 到 10 之间",
}


@bp.route("/transitions")
@login_required
def transitions():
    """How firms moved between two quarters: the counts matrix and the firms, or an .xlsx of both."""
    try:
        second = Quarter.parse(request.args.get("to") or Quarter.of(dt.date.today()).key)
        first = Quarter.parse(request.args.get("from") or (second - 1).key)
    except ValueError:
        flash(_("Enter quarters such as 2026Q3."), "danger")
        return redirect(url_for(".transitions"))
    rows = quarter_transitions(first, second, firm_scope(current_user))
    matrix: dict[str, dict[str, int]] = {}
    for _firm, tier_a, tier_b in rows:
        a = tier_a.value if tier_a else "none"
        b = tier_b.value if tier_b else "none"
        matrix.setdefault(a, {}).setdefault(b, 0)
        matrix[a][b] += 1
    if request.args.get("format") == "xlsx":
        data = transitions_workbook(first, second, rows, matrix)
        name = f"分层变动_{first.key}_{second.key}.xlsx"
        return Response(
            data,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": attachment_header(f"transitions_{first.key}_{second.key}.xlsx", name)},
        )
    moved = [r for r in rows if r[1] != r[2]]
    return render_template(
        "tiers/transitions.html",
        first=first,
        second=second,
        matrix=matrix,
        moved=moved[:500],
        moved_total=len(moved),
        total=len(rows),
    )
