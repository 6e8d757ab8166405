"""Firm forms: the full form for admins and supervisors, a short one for officers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..domain.credit_codes import CreditCodeError, normalise_credit_code, validate_credit_code
from ..domain.industry import IndustryCodeError, validate_industry_code
from ..domain.text import clean_text
from ..domain.tiers import Chain, FirmStatus, Role
from ..extensions import db
from ..i18n import CHAIN_LABELS, STATUS_LABELS
from ..models import Building, Firm, Street, User
from ..security import db_id
from .services import FLAG_FIELDS

CREDIT_CODE_MESSAGES = {
    "empty": _l("Enter the 18-character unified social credit code."),
    "length": _l("A credit code has 18 characters; check for a missing or extra character."),
    "format": _l("A credit code uses digits and the letters A–Y except I, O, S, V and Z."),
    "checksum": _l("The last character (check character) does not match; check the code against the business licence."),
}
PHONE_PATTERN = r"^[0-9+\-() ]{5,32}$"
#: The largest registered capital (万元) a Numeric(14, 2) column holds.
MAX_REGISTERED_CAPITAL = Decimal("999999999999.99")
#: The earliest founding date taken as real; the same bound the roster import uses.
EARLIEST_ESTABLISHED = dt.date(1900, 1, 1)


def _strip(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _optional_int(value: Any) -> int | None:
    """An id from a select, or None; one no database integer holds is refused as a bad choice."""
    return db_id(value) if value not in (None, "", "None") else None


class OfficerFirmForm(FlaskForm):
    """What a service officer may change: status, contact and notes."""

    version = HiddenField()
    status = SelectField(_l("Status"), choices=[SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()])
    contact_name = StringField(_l("Contact person"), filters=[_strip], validators=[Optional(), Length(max=64)])
    contact_phone = StringField(
        _l("Contact phone"),
        filters=[_strip],
        validators=[
            Optional(),
            Regexp(PHONE_PATTERN, message=_l("Enter a phone number: digits, spaces, + - ( ) only.")),
        ],
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])

    def firm_values(self) -> dict[str, Any]:
        """The submitted values, ready for the firm service."""
        return {
            "status": FirmStatus(self.status.data),
            "contact_name": self.contact_name.data or None,
            "contact_phone": self.contact_phone.data or None,
            "notes": self.notes.data or None,
        }


class FirmForm(OfficerFirmForm):
    """Every firm field, for admins and supervisors."""

    credit_code = StringField(
        _l("Unified social credit code"), filters=[_strip], validators=[InputRequired(_l("Enter the credit code."))]
    )
    accept_invalid_code = BooleanField(_l("Accept this code although its check character fails"))
    credit_code_exception = StringField(
        _l("Reason for accepting it"), filters=[_strip], validators=[Optional(), Length(max=500)]
    )
    registration_number = StringField(
        _l("Old registration number (15 digits)"),
        filters=[_strip],
        validators=[Optional(), Regexp(r"^\d{15}$", message=_l("An old registration number has 15 digits."))],
    )
    name = StringField(
        _l("Firm name"), filters=[_strip], validators=[DataRequired(_l("Enter the firm's name.")), Length(max=200)]
    )
    chain = SelectField(
        _l("Industry chain"),
        choices=[SelectChoice("", "—")] + [SelectChoice(c.value, label) for c, label in CHAIN_LABELS.items()],
    )
    industry_code = StringField(_l("Industry code (GB/T 4754)"), filters=[_strip], validators=[Optional()])
    street_id = SelectField(_l("Street"), coerce=_optional_int, validators=[InputRequired(_l("Choose the street."))])
    building_id = SelectField(_l("Building"), coerce=_optional_int, validators=[Optional()])
    established = DateField(_l("Established"), validators=[Optional()])
    registered_capital = DecimalField(
        _l("Registered capital (10k CNY)"),
        places=2,
        validators=[
            Optional(),
            NumberRange(min=0, message=_l("Registered capital cannot be negative.")),
            NumberRange(
                max=MAX_REGISTERED_CAPITAL,
                message=_l("Registered capital is too large; check it is in 10k CNY (at most 999999999999.99)."),
            ),
        ],
    )
    above_scale = BooleanField(_l("Above designated size"))
    is_high_tech = BooleanField(_l("High-tech enterprise"))
    is_specialised = BooleanField(_l("Specialised and innovative (SRDI)"))
    is_listed = BooleanField(_l("Listed"))
    is_chain_leader = BooleanField(_l("Chain leader"))
    is_abnormal = BooleanField(_l("Abnormal-operation list"))
    has_serious_violation = BooleanField(_l("Serious violation"))
    officer_id = SelectField(_l("Service officer"), coerce=_optional_int, validators=[Optional()])

    def __init__(self, *args: Any, streets: list[Street], firm: Firm | None, may_accept_invalid: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._firm = firm
        self._may_accept_invalid = may_accept_invalid
        self.street_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(s.id), s.name) for s in streets]
        street_ids = [s.id for s in streets]
        buildings = db.session.scalars(
            sa.select(Building).where(Building.street_id.in_(street_ids)).order_by(Building.street_id, Building.name)
        )
        self.building_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(b.id), f"{b.name}（{b.street.name}）") for b in buildings
        ]
        officers = db.session.scalars(
            sa.select(User)
            .where(User.role == Role.OFFICER, User.active.is_(True))
            .options(selectinload(User.streets))
            .order_by(User.username)
        )
        self.officer_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(u.id), f"{u.label}（{'、'.join(s.name for s in u.streets)}）") for u in officers
        ]

    def _accepted_exception(self, code: str) -> str | None:
        """Why an admin accepted this firm's failing code earlier, when the edit keeps that code."""
        if self._firm is None or code != self._firm.credit_code:
            return None
        return self._firm.credit_code_exception or None

    def validate_credit_code(self, field: StringField) -> None:
        """Check character via stdnum; admins may accept a failing one with a reason; unique."""
        field.data = normalise_credit_code(field.data)
        try:
            validate_credit_code(field.data)
        except CreditCodeError as exc:
            accepted = self._accepted_exception(field.data)
            if accepted:
                # The admin's earlier decision stands without ticking the box again; only an
                # admin may reword the reason, and an empty one keeps it.
                if not (self._may_accept_invalid and self.credit_code_exception.data):
                    self.credit_code_exception.data = accepted
                return
            if not (exc.reason == "checksum" and self._may_accept_invalid and self.accept_invalid_code.data):
                raise ValidationError(CREDIT_CODE_MESSAGES[exc.reason]) from exc
            if not self.credit_code_exception.data:
                raise ValidationError(_l("Give the reason for accepting a code whose check character fails.")) from exc
        else:
            self.credit_code_exception.data = ""
        clash = db.session.scalar(sa.select(Firm.id).where(Firm.credit_code == field.data))
        if clash is not None and (self._firm is None or clash != self._firm.id):
            raise ValidationError(_l("Another firm already has this credit code."))

    def validate_industry_code(self, field: StringField) -> None:
        """GB/T 4754-2017: a section letter and up to four digits within its range."""
        if not field.data:
            return
        try:
            field.data = validate_industry_code(field.data)
        except IndustryCodeError as exc:
            raise ValidationError(_l("Not a GB/T 4754 industry code (for example C3511).")) from exc

    def validate_established(self, field: DateField) -> None:
        """A founding date between 1900 and today (today where the platform is, not the server)."""
        today = dt.datetime.now(get_timezone()).date()
        if field.data and not EARLIEST_ESTABLISHED <= field.data <= today:
            raise ValidationError(_l("Enter a founding date between 1900-01-01 and today."))

    def validate_officer_id(self, field: SelectField) -> None:
        """The officer must cover the firm's street, or it could not even see the firm."""
        if not field.data or not self.street_id.data:
            return
        officer = db.session.get(User, field.data)
        if officer is None or officer.role != Role.OFFICER or not officer.active:
            return  # not among the choices: the select has already said so
        if self.street_id.data not in {street.id for street in officer.streets}:
            raise ValidationError(_l("This officer does not cover the chosen street."))

    def validate_building_id(self, field: SelectField) -> None:
        """A building must stand in the firm's street."""
        if field.data:
            building = db.session.get(Building, field.data)
            if building is None or building.street_id != self.street_id.data:
                raise ValidationError(_l("This building is not in the chosen street."))

    def firm_values(self) -> dict[str, Any]:
        """Every submitted field, ready for the firm service."""
        values = super().firm_values()
        values.update(
            credit_code=self.credit_code.data,
            credit_code_exception=self.credit_code_exception.data or None,
            registration_number=self.registration_number.data or None,
            name=self.name.data,
            chain=Chain(self.chain.data) if self.chain.data else None,
            industry_code=self.industry_code.data or None,
            street_id=self.street_id.data,
            building_id=self.building_id.data,
            established=self.established.data,
            registered_capital=self.registered_capital.data,
            officer_id=self.officer_id.data,
        )
        for flag in FLAG_FIELDS:
            values[flag] = bool(getattr(self, flag).data)
        return values
