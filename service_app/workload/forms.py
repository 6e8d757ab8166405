"""The bulk rebalance form: which of an officer's firms move, and to whom."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField, SelectChoice, SelectField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError

from ..domain.tiers import Tier
from ..i18n import TIER_LABELS
from ..security import db_id

#: Most firms one ticked selection may hold (larger moves go by tier or street, "all matching").
MAX_SELECTED = 500
NOT_ASSESSED = "none"


class IdListField(Field):
    """Ids posted as repeated values (the ticked boxes), parsed, bounded and de-duplicated."""

    data: list[int]

    def process(self, formdata: Any, data: Any = None, **kwargs: Any) -> None:
        super().process(formdata, data, **kwargs)
        if self.data is None:
            self.data = []

    def process_formdata(self, valuelist: list[str]) -> None:
        ids = set()
        for value in valuelist:
            try:
                ids.add(db_id(value))
            except ValueError:
                self.data = []
                raise ValueError(_l("A ticked firm could not be read; tick the firms again.")) from None
        self.data = sorted(ids)


class RebalanceForm(FlaskForm):
    """Move some of an officer's firms: the ticked ones, or all that match the tier and street."""

    target_id = SelectField(_l("To officer"), validators=[DataRequired(_l("Choose an officer."))])
    tier = SelectField(
        _l("Service tier"),
        choices=[
            SelectChoice("", _l("All")),
            *(SelectChoice(t.value, TIER_LABELS[t]) for t in Tier),
            SelectChoice(NOT_ASSESSED, _l("Not assessed")),
        ],
        validators=[Optional()],
    )
    street_id = SelectField(_l("Street"), validators=[Optional()])
    selection = SelectField(
        choices=[SelectChoice("selected", _l("The ticked firms")), SelectChoice("all", _l("All matching firms"))],
        validators=[DataRequired()],
    )
    firm_ids = IdListField()
    confirm = HiddenField()
    expected = IntegerField(validators=[Optional(), NumberRange(min=0)])

    def validate_firm_ids(self, field: IdListField) -> None:
        if self.selection.data != "selected":
            return
        if not field.data:
            raise ValidationError(_l("Tick at least one firm, or move all matching firms."))
        if len(field.data) > MAX_SELECTED:
            raise ValidationError(_l("Tick at most %(n)s firms; move larger groups by tier or street.", n=MAX_SELECTED))
