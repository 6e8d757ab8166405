"""Forms for raising requests and moving them through their lifecycle."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..i18n import REQUEST_CATEGORY_LABELS, SATISFACTION_LABELS, URGENCY_LABELS


class RequestForm(FlaskForm):
    """Raise a request for a firm."""

    category = SelectField(
        _l("Category"), choices=[SelectChoice(c.value, label) for c, label in REQUEST_CATEGORY_LABELS.items()]
    )
    urgency = SelectField(_l("Urgency"), choices=[SelectChoice(u.value, label) for u, label in URGENCY_LABELS.items()])
    description = TextAreaField(
        _l("What the firm asks for"),
        validators=[DataRequired(_l("Describe what the firm asks for.")), Length(max=5000)],
    )
    received_on = DateField(_l("Received on"), validators=[InputRequired(_l("Enter a date such as 2026-11-26."))])


class StepForm(FlaskForm):
    """The next step of a request; which fields count depends on the step."""

    owner_department = StringField(_l("Department"), validators=[Length(max=100)])
    owner_id = SelectField(_l("Officer"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Length(max=1000)])
    resolution = TextAreaField(_l("Resolution"), validators=[Length(max=5000)])
    satisfaction = SelectField(
        _l("Satisfaction"),
        choices=[SelectChoice("", "—")] + [SelectChoice(s.value, label) for s, label in SATISFACTION_LABELS.items()],
        validators=[Optional()],  # only the 回访 step shows (and posts) it
    )
