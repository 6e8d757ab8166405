"""The form that asks for an export pack."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from ..tiers.forms import _check_quarter


class PackForm(FlaskForm):
    """Ask for a quarter's pack (one workbook per street); the scheduler builds it."""

    quarter = StringField(
        _l("Quarter"), validators=[DataRequired(_l("Enter a quarter such as 2026Q4.")), _check_quarter]
    )
