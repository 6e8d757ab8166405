"""Forms for proposals, overrides and rule sets."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..domain.quarters import Quarter
from ..domain.scoring import INDICATORS, RULES
from ..domain.tiers import Tier
from ..i18n import TIER_LABELS


def _check_quarter(_form: FlaskForm, field: StringField) -> None:
    if field.data:
        try:
            field.data = Quarter.parse(field.data).key
        except ValueError as exc:
            raise ValidationError(_l("Enter a quarter such as 2026Q4.")) from exc


class ProposeForm(FlaskForm):
    """Compute the proposal for a quarter."""

    quarter = StringField(
        _l("Quarter"), validators=[DataRequired(_l("Enter a quarter such as 2026Q4.")), _check_quarter]
    )


class OverrideForm(FlaskForm):
    """A supervisor's tier for one firm on review."""

    tier = SelectField(_l("Tier"), choices=[SelectChoice(t.value, label) for t, label in TIER_LABELS.items()])
    reason = StringField(
        _l("Reason"), validators=[DataRequired(_l("Give the reason for the override.")), Length(max=500)]
    )
    expiry = StringField(_l("In force until (quarter, optional)"), validators=[Optional(), _check_quarter])


def rule_set_form(indicator_labels: dict[str, str], rule_labels: dict[str, str]) -> type[FlaskForm]:
    """A form class with one field per weight, band and rule switch."""

    class RuleSetForm(FlaskForm):
        cap = DecimalField(_l("Cap per indicator (times the median)"), validators=[InputRequired(), NumberRange(1, 10)])
        key_revenue_threshold = DecimalField(
            _l("Revenue over four quarters that makes a firm key (10k CNY)"),
            validators=[InputRequired(), NumberRange(min=1)],
        )
        min_pool_size = IntegerField(
            _l("Smallest pool ranked on its own"), validators=[InputRequired(), NumberRange(1, 1000)]
        )
        hysteresis = BooleanField(_l("Drop a tier only after two quarters running below its band"))
        note = StringField(
            _l("What changed and why"), validators=[DataRequired(_l("Say what changed and why.")), Length(max=500)]
        )

    for name in INDICATORS:
        setattr(
            RuleSetForm,
            f"weight_{name}",
            DecimalField(indicator_labels[name], validators=[InputRequired(), NumberRange(min=0)]),
        )
    for tier in ("key", "cultivate", "observe", "exit"):
        setattr(
            RuleSetForm,
            f"band_{tier}",
            DecimalField(TIER_LABELS[Tier(tier)], validators=[InputRequired(), NumberRange(0, 100)]),
        )
    for rule in RULES:
        setattr(RuleSetForm, f"rule_{rule}", BooleanField(rule_labels[rule]))
    return RuleSetForm
