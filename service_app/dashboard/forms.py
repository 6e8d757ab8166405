"""The indicator-target form (admins)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation

from ..domain.indicators import IndicatorMetric

#: What each indicator measures, as the admin picks it.
METRIC_LABELS = {
    IndicatorMetric.REVENUE_GROWTH: _l("Revenue growth, year to date (%)"),
    IndicatorMetric.TAX_GROWTH: _l("Tax growth, year to date (%)"),
    IndicatorMetric.DIGITAL_CORE_GROWTH: _l("Digital-economy core industries: revenue growth, year to date (%)"),
    IndicatorMetric.RD_INTENSITY: _l("R&D intensity: R&D spend ÷ revenue, year to date (%)"),
}

ENTER_PERCENT = _l("Enter the target in percent, e.g. 10.")


def finite_number(_form: FlaskForm, field: DecimalField) -> None:
    """Refuse NaN and infinities before any range check compares them."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation(str(ENTER_PERCENT))


class TargetForm(FlaskForm):
    """One indicator's target for a year."""

    year = IntegerField(
        _l("Year"),
        validators=[
            InputRequired(_l("Enter a year.")),
            NumberRange(2000, 2100, _l("Enter a year between %(min)s and %(max)s.")),
        ],
    )
    metric = SelectField(_l("Indicator"), choices=[SelectChoice(m.value, label) for m, label in METRIC_LABELS.items()])
    name = StringField(_l("Name shown"), validators=[Optional(), Length(max=100)])
    threshold = DecimalField(
        _l("Target (%)"),
        places=2,
        validators=[
            InputRequired(ENTER_PERCENT),
            finite_number,
            NumberRange(-100, 1000, _l("Enter a percentage between %(min)s and %(max)s.")),
        ],
    )
