"""The officer's workspace: my follow-ups, the month calendar, logging visits, rescheduling,
reassigning; the admin's service settings; the private calendar feed."""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import contains_eager, joinedload
from wtforms import SelectChoice

from ..audit import record_event
from ..domain.followups import ExitCheck, FollowupStatus, RequestCategory, Urgency, VisitKind, week_bounds
from ..domain.tiers import Role, Tier
from ..domain.workdays import calendar_knows, china_today
from ..extensions import db
from ..firm_requests.services import RequestError, limits, raise_request
from ..models import CalendarDay, Firm, FirmRequest, Followup, RequestCategoryLimit, TierCadence, User, Visit
from ..models.types import utcnow
from ..pagination import paginate
from ..permissions import roles_required
from ..scoping import firm_scope, firm_scope_parameter, firm_scope_values, visible_streets
from ..security import db_id
from . import bp
from .feed import feed, issue_token, revoke_token, user_for_token
from .forms import CadenceForm, CalendarDayForm, MoveFirmsForm, ReassignForm, RescheduleForm, VisitForm, limits_form
from .listing import MANAGERS, VIEWS, ids_statement, list_plan, officer_choice, rows_of, tally_statement
from .services import (
    FollowupError,
    cadences,
    calendar_is_guessed,
    exit_checks_done,
    log_visit,
    officers_for,
    reassign_firms,
    reassign_followup,
    reschedule,
    work_calendar,
)

WORKERS = (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER)


def _followup_or_404(followup_id: int) -> Followup:
    scope = firm_scope_values(current_user)
    if scope is None:
        abort(404)
    followup = db.session.scalars(_scoped_followup(bool(scope)), {"followup_id": followup_id, **scope}).first()
    if followup is None:
        abort(404)
    return followup


@functools.cache
def _scoped_followup(limited: bool) -> sa.Select[Followup]:
    """_followup_or_404's statement, built once per process for each kind of scope (as
    scoping.get_scoped_firm_or_404's)."""
    statement = (
        sa.select(Followup)
        .join(Firm, Firm.id == Followup.firm_id)
        .where(Followup.id == sa.bindparam("followup_id", type_=sa.Integer))
        .options(contains_eager(Followup.firm), joinedload(Followup.officer))
    )
    return statement.where(firm_scope_parameter()) if limited else statement


@bp.route("/")
@roles_required(*WORKERS)
def index():
    """My follow-ups: overdue, due this week, upcoming, by due date."""
    now = china_today()
    monday, sunday = week_bounds(now)
    plan = list_plan(current_user, request.args)
    dates = {"today": now, "sunday": sunday}
    counts = db.session.execute(tally_statement(plan.shape), {**plan.values, **dates}).one()
    tally = dict(zip(VIEWS, counts, strict=True))
    view = request.args.get("view", "")
    if view not in VIEWS:
        view = "all" if plan.day else ("overdue" if tally["overdue"] else "week" if tally["week"] else "upcoming")
    page = paginate(
        ids_statement(plan.shape, view),
        rows=rows_of,
        parameters={**plan.values, **dates},
        page=request.args.get("page", 1, type=db_id),
        per_page=50,
        total=tally[view],
    )
    officers = officers_for() if current_user.role in MANAGERS else []
    return render_template(
        "followups/index.html",
        page=page,
        tally=tally,
        view=view,
        today=now,
        monday=monday,
        sunday=sunday,
        officers=officers,
        officer_choice=plan.officer_choice,
        streets=visible_streets(current_user),
        day=plan.day,
        guessed=calendar_is_guessed(sunday),
    )


@bp.route("/calendar")
@roles_required(*WORKERS)
def calendar():
    """A month of follow-ups by due date, with holidays and make-up working days marked."""
    now = china_today()
    try:
        first = dt.datetime.strptime(request.args.get("month", ""), "%Y-%m").date()
    except ValueError:
        first = now.replace(day=1)
    if not dt.MINYEAR < first.year < dt.MAXYEAR:  # the previous and next month links must exist
        first = now.replace(day=1)
    last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
    officer_id, chosen = officer_choice(current_user, request.args)
    where = [
        Followup.status == FollowupStatus.OPEN,
        firm_scope(current_user),
        sa.true() if officer_id is None else Followup.officer_id == officer_id,
        Followup.due_date.between(first, last),
    ]
    ranked = (
        sa.select(
            Followup.id,
            Followup.due_date,
            Followup.tier,
            Firm.name,
            sa.func.row_number().over(partition_by=Followup.due_date, order_by=(Firm.name, Followup.id)).label("n"),
            sa.func.count().over(partition_by=Followup.due_date).label("total"),
        )
        .join(Firm, Firm.id == Followup.firm_id)
        .where(*where)
        .subquery()
    )
    days: dict[dt.date, dict[str, Any]] = {}
    for row in db.session.execute(sa.select(ranked).where(ranked.c.n <= 4)):
        entry = days.setdefault(row.due_date, {"total": row.total, "items": []})
        entry["items"].append(row)
    work = work_calendar()
    weeks = month_calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    following = last + dt.timedelta(days=1)
    return render_template(
        "followups/calendar.html",
        weeks=weeks,
        days=days,
        first=first,
        today=now,
        work=work,
        previous=previous,
        following=following,
        officer_choice=chosen,
        officers=officers_for() if current_user.role in MANAGERS else [],
        guessed=work.is_guessed(first),
    )


def _visit_form(followup: Followup, done: dict[ExitCheck, Any] | None = None) -> VisitForm:
    form = VisitForm(prefix="visit")
    if request.method == "GET":
        form.visited_on.data = china_today()
    done = exit_checks_done(followup.firm_id) if done is None else done
    form.checks.choices = [c for c in form.checks.choices if ExitCheck(c.value) not in done]  # type: ignore[union-attr]
    return form


def _reassign_form(followup: Followup) -> ReassignForm:
    form = ReassignForm(prefix="reassign")
    form.officer_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(o.id), o.label) for o in officers_for(followup.firm.street_id)
    ]
    return form


@functools.cache
def _detail_statements() -> tuple[sa.Select[Visit], sa.Select[FirmRequest]]:
    """A follow-up page's latest visits and requests of its firm, built once per process."""
    firm_id = sa.bindparam("firm_id", type_=sa.Integer)
    return (
        sa.select(Visit)
        .where(Visit.firm_id == firm_id)
        .options(joinedload(Visit.officer))
        .order_by(Visit.visited_on.desc(), Visit.id.desc())
        .limit(20),
        sa.select(FirmRequest).where(FirmRequest.firm_id == firm_id).order_by(FirmRequest.id.desc()).limit(20),
    )


def _detail(followup: Followup, visit_form: VisitForm | None = None, reschedule_form=None, reassign_form=None):
    firm = followup.firm
    latest_visits, latest_requests = _detail_statements()
    visits = db.session.scalars(latest_visits, {"firm_id": firm.id}).all()
    requests = db.session.scalars(latest_requests, {"firm_id": firm.id}).all()
    form = reschedule_form or RescheduleForm(prefix="reschedule")
    if reschedule_form is None:
        form.due_date.data = followup.due_date
    checks_done = exit_checks_done(firm.id)
    return render_template(
        "followups/detail.html",
        followup=followup,
        firm=firm,
        visits=visits,
        requests=requests,
        checks_done=checks_done,
        visit_form=visit_form or _visit_form(followup, checks_done),
        reschedule_form=form,
        reassign_form=reassign_form or (_reassign_form(followup) if current_user.role in MANAGERS else None),
        today=china_today(),
        guessed=calendar_is_guessed(followup.due_date),
    )


@bp.route("/<int:followup_id>")
@roles_required(*WORKERS)
def detail(followup_id: int):
    """A follow-up: the firm, its visits and requests, and the forms to act on it."""
    return _detail(_followup_or_404(followup_id))


@bp.route("/<int:followup_id>/visit", methods=["POST"])
@roles_required(*WORKERS)
def visit(followup_id: int):
    """Log a visit: completes the follow-up and schedules the next."""
    followup = _followup_or_404(followup_id)
    form = _visit_form(followup)
    if not form.validate_on_submit():
        flash(_("The visit was not saved: correct the fields marked below."), "danger")
        return _detail(followup, visit_form=form), 400
    try:
        recorded, following = log_visit(
            followup,
            current_user,
            visited_on=form.visited_on.data,
            kind=VisitKind(form.kind.data),
            participants=form.participants.data or "",
            notes=form.notes.data or "",
            checks=[ExitCheck(c) for c in form.checks.data or []],
            today=china_today(),
        )
        if form.request_category.data:
            raise_request(
                followup.firm,
                current_user,
                category=RequestCategory(form.request_category.data),
                description=form.request_description.data or "",
                urgency=Urgency(form.request_urgency.data),
                received_on=recorded.visited_on,
                visit=recorded,
            )
    except (FollowupError, RequestError) as refused:
        db.session.rollback()
        flash(str(refused), "danger")
        return redirect(url_for(".detail", followup_id=followup_id))
    # Worded before the commit, which expires every loaded object (the user included).
    if following is not None:
        message = _("Visit recorded. The next follow-up is due on %(day)s.", day=following.due_date.isoformat())
        target = url_for(".detail", followup_id=following.id)
    else:
        message, target = _("Visit recorded."), url_for(".index")
    db.session.commit()
    flash(message, "success")
    return redirect(target)


@bp.route("/<int:followup_id>/reschedule", methods=["POST"])
@roles_required(*WORKERS)
def reschedule_view(followup_id: int):
    """Move a follow-up to another day, with a reason."""
    followup = _followup_or_404(followup_id)
    form = RescheduleForm(prefix="reschedule")
    if not form.validate_on_submit():
        flash(_("Not rescheduled: correct the fields marked below."), "danger")
        return _detail(followup, reschedule_form=form), 400
    try:
        landed = reschedule(followup, form.due_date.data, form.reason.data, current_user, today=china_today())
    except FollowupError as refused:
        db.session.rollback()
        flash(str(refused), "danger")
        return redirect(url_for(".detail", followup_id=followup_id))
    db.session.commit()
    if landed != form.due_date.data:
        flash(
            _(
                "%(chosen)s is not a working day; the follow-up moved to %(day)s.",
                chosen=form.due_date.data.isoformat(),
                day=landed.isoformat(),
            ),
            "info",
        )
    else:
        flash(_("Rescheduled to %(day)s.", day=landed.isoformat()), "success")
    return redirect(url_for(".detail", followup_id=followup_id))


@bp.route("/<int:followup_id>/reassign", methods=["POST"])
@roles_required(*MANAGERS)
def reassign(followup_id: int):
    """Give a follow-up to another officer."""
    followup = _followup_or_404(followup_id)
    form = _reassign_form(followup)
    if not form.validate_on_submit():
        flash(_("Choose an officer who covers the firm's street."), "danger")
        return _detail(followup, reassign_form=form), 400
    officer = db.session.get(User, int(form.officer_id.data))
    try:
        if officer is None:
            raise FollowupError(_("Choose an active service officer."))
        reassign_followup(followup, officer, current_user)
    except FollowupError as refused:
        db.session.rollback()
        flash(str(refused), "danger")
        return redirect(url_for(".detail", followup_id=followup_id))
    db.session.commit()
    flash(_("Follow-up given to %(name)s.", name=officer.label), "success")
    return redirect(url_for(".detail", followup_id=followup_id))


@bp.route("/reassign", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def move_firms():
    """Move an officer's firms and open follow-ups to another officer."""
    form = MoveFirmsForm()
    everyone = list(db.session.scalars(sa.select(User).where(User.role == Role.OFFICER).order_by(User.username)))
    form.source_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(o.id), o.label + ("" if o.active else f" ({_('inactive')})")) for o in everyone
    ]
    form.target_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(o.id), o.label) for o in officers_for()]
    form.street_id.choices = [SelectChoice("", _("All streets"))] + [
        SelectChoice(str(s.id), s.name) for s in visible_streets(current_user)
    ]
    load = dict(
        db.session.execute(
            sa.select(Firm.officer_id, sa.func.count()).where(Firm.officer_id.is_not(None)).group_by(Firm.officer_id)
        ).all()
    )
    if form.validate_on_submit():
        source = db.session.get(User, int(form.source_id.data))
        target = db.session.get(User, int(form.target_id.data))
        try:
            if source is None or target is None:
                raise FollowupError(_("Choose an officer."))
            moved, left = reassign_firms(
                source, target, current_user, int(form.street_id.data) if form.street_id.data else None
            )
        except FollowupError as refused:
            db.session.rollback()
            flash(str(refused), "danger")
            return render_template("followups/move.html", form=form, officers=everyone, load=load), 400
        db.session.commit()
        if left:
            flash(
                _(
                    "%(moved)s firms moved to %(name)s; %(left)s lie in streets %(name)s does not cover and stayed.",
                    moved=moved,
                    left=left,
                    name=target.label,
                ),
                "warning",
            )
        else:
            flash(_("%(moved)s firms moved to %(name)s.", moved=moved, name=target.label), "success")
        return redirect(url_for(".move_firms"))
    status = 400 if request.method == "POST" else 200
    return render_template("followups/move.html", form=form, officers=everyone, load=load), status


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def settings():
    """Cadences per tier, request deadlines per category, the holiday table."""
    cadence_form = CadenceForm(prefix="cadence")
    limits_class = limits_form()
    limit_form = limits_class(prefix="limits")
    day_form = CalendarDayForm(prefix="day")
    action = request.form.get("action")
    status = 200
    if request.method == "POST":
        status = 400
        if action == "cadence" and cadence_form.validate_on_submit():
            before = {t.value: d for t, d in cadences().items()}
            for tier in Tier:
                row = db.session.get(TierCadence, tier) or TierCadence(tier=tier)
                row.days = getattr(cadence_form, tier.value).data
                row.updated_at = utcnow()
                db.session.add(row)
            after = {t.value: getattr(cadence_form, t.value).data for t in Tier}
            record_event("settings.cadence", "settings", "cadence", before=before, after=after)
            db.session.commit()
            flash(_("Cadences saved. Follow-ups scheduled from now on use them."), "success")
            return redirect(url_for(".settings"))
        if action == "limits" and limit_form.validate_on_submit():
            before = {c.value: d for c, d in limits().items()}
            for category in RequestCategory:
                row = db.session.get(RequestCategoryLimit, category) or RequestCategoryLimit(category=category)
                row.limit_days = getattr(limit_form, f"limit_{category.value}").data
                row.updated_at = utcnow()
                db.session.add(row)
            after = {c.value: getattr(limit_form, f"limit_{c.value}").data for c in RequestCategory}
            record_event("settings.request_limits", "settings", "limits", before=before, after=after)
            db.session.commit()
            flash(_("Deadlines saved. Requests raised from now on use them."), "success")
            return redirect(url_for(".settings"))
        if action == "day" and day_form.validate_on_submit():
            row = db.session.get(CalendarDay, day_form.day.data) or CalendarDay(day=day_form.day.data)
            row.is_workday = day_form.is_workday.data
            row.name = (day_form.name.data or "").strip()
            row.updated_at = utcnow()
            db.session.add(row)
            record_event(
                "settings.calendar_day",
                "settings",
                day_form.day.data.isoformat(),
                after={"is_workday": row.is_workday, "name": row.name},
            )
            db.session.commit()
            flash(_("%(day)s saved in the holiday table.", day=day_form.day.data.isoformat()), "success")
            return redirect(url_for(".settings"))
        if action == "delete_day":
            try:
                day = dt.date.fromisoformat(request.form.get("day", ""))
            except ValueError:
                abort(400)
            row = db.session.get(CalendarDay, day)
            if row is not None:
                db.session.delete(row)
                record_event("settings.calendar_day.delete", "settings", day.isoformat())
                db.session.commit()
            flash(_("%(day)s removed from the holiday table.", day=day.isoformat()), "success")
            return redirect(url_for(".settings"))
        flash(_("Not saved: correct the fields marked below."), "danger")
    if request.method == "GET" or action != "cadence":
        for tier, days in cadences().items():
            getattr(cadence_form, tier.value).data = days
    if request.method == "GET" or action != "limits":
        for category, days in limits().items():
            getattr(limit_form, f"limit_{category.value}").data = days
    days = db.session.scalars(sa.select(CalendarDay).order_by(CalendarDay.day.desc())).all()
    unknown_years = [year for year in range(china_today().year, china_today().year + 3) if not calendar_knows(year)]
    return (
        render_template(
            "followups/settings.html",
            cadence_form=cadence_form,
            limit_form=limit_form,
            day_form=day_form,
            days=days,
            unknown_years=unknown_years,
        ),
        status,
    )


@bp.route("/feed", methods=["GET", "POST"])
@roles_required(*WORKERS)
def feed_settings():
    """The user's private calendar URL: issue a new one (revoking the old) or switch it off."""
    url = None
    if request.method == "POST":
        if request.form.get("action") == "revoke":
            revoke_token(current_user)
            record_event("user.calendar_feed.revoke", "user", current_user.id)
            db.session.commit()
            flash(_("Your calendar link no longer works."), "success")
            return redirect(url_for(".feed_settings"))
        token = issue_token(current_user)
        record_event("user.calendar_feed.issue", "user", current_user.id)
        db.session.commit()
        url = url_for(".calendar_feed", token=token, _external=True)
    return render_template("followups/feed.html", url=url, active=bool(current_user.calendar_token_hash))


@bp.route("/feed/<token>.ics")
def calendar_feed(token: str):
    """The iCalendar feed itself: no sign-in, the secret in the URL is the key."""
    user = user_for_token(token)
    if user is None:
        abort(404)
    body = feed(user, current_app.config["PLATFORM_NAME"], request.url_root)
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Content-Disposition"] = 'inline; filename="followups.ics"'
    return response
