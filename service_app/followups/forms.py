"""Forms for visits, rescheduling, reassignment and the service settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain.tiers import Tier
from ..i18n import (
    EXIT_CHECK_LABELS,
    REQUEST_CATEGORY_LABELS,
    TIER_LABELS,
    URGENCY_LABELS,
    VISIT_KIND_LABELS,
)

DATE_MESSAGE = _l("Enter a date such as 2026-11-26.")


class CheckboxList(SelectMultipleField):
    """Several check boxes for one multi-choice field."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class VisitForm(FlaskForm):
    """Log a visit; it completes the follow-up and schedules the next."""

    visited_on = DateField(_l("Visit date"), validators=[InputRequired(DATE_MESSAGE)])
    kind = SelectField(_l("Kind"), choices=_choices(VISIT_KIND_LABELS))
    participants = StringField(_l("Participants"), validators=[Length(max=300)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=10000)])
    checks = CheckboxList(_l("Exit checklist"), choices=_choices(EXIT_CHECK_LABELS), validate_choice=True)
    request_category = SelectField(
        _l("Request raised (optional)"),
        choices=[SelectChoice("", "—"), *_choices(REQUEST_CATEGORY_LABELS)],
    )
    request_urgency = SelectField(_l("Urgency"), choices=_choices(URGENCY_LABELS))
    request_description = TextAreaField(_l("What the firm asks for"), validators=[Length(max=5000)])

    def validate_request_description(self, field: TextAreaField) -> None:
        if self.request_category.data and not (field.data or "").strip():
            from wtforms.validators import ValidationError

            raise ValidationError(_l("Describe what the firm asks for."))


class RescheduleForm(FlaskForm):
    """Move a follow-up; a reason is required."""

    due_date = DateField(_l("New due date"), validators=[InputRequired(DATE_MESSAGE)])
    reason = StringField(
        _l("Reason"), validators=[DataRequired(_l("Give a reason for rescheduling.")), Length(max=500)]
    )


class ReassignForm(FlaskForm):
    """Give a follow-up to another officer."""

    officer_id = SelectField(_l("Officer"), validators=[DataRequired(_l("Choose an officer."))])


class MoveFirmsForm(FlaskForm):
    """Move one officer's firms and open follow-ups to another."""

    source_id = SelectField(_l("From officer"), validators=[DataRequired(_l("Choose an officer."))])
    target_id = SelectField(_l("To officer"), validators=[DataRequired(_l("Choose an officer."))])
    street_id = SelectField(_l("Street"), validators=[Optional()])


class CadenceForm(FlaskForm):
    """Days between visits for each tier."""

    key = IntegerField(TIER_LABELS[Tier.KEY], validators=[InputRequired(), NumberRange(1, 366)])
    cultivate = IntegerField(TIER_LABELS[Tier.CULTIVATE], validators=[InputRequired(), NumberRange(1, 366)])
    observe = IntegerField(TIER_LABELS[Tier.OBSERVE], validators=[InputRequired(), NumberRange(1, 366)])
    exit = IntegerField(TIER_LABELS[Tier.EXIT], validators=[InputRequired(), NumberRange(1, 366)])


class CalendarDayForm(FlaskForm):
    """One day in the admin's holiday table."""

    day = DateField(_l("Day"), validators=[InputRequired(DATE_MESSAGE)])
    is_workday = BooleanField(_l("Make-up working day (调休) rather than a holiday"))
    name = StringField(_l("Name"), validators=[Length(max=64)])


def limits_form() -> type[FlaskForm]:
    """A form with one working-day limit per request category."""

    class LimitsForm(FlaskForm):
        pass

    for category, label in REQUEST_CATEGORY_LABELS.items():
        setattr(
            LimitsForm,
            f"limit_{category.value}",
            IntegerField(label, validators=[InputRequired(), NumberRange(1, 250)]),
        )
    return LimitsForm
