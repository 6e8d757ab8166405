"""Forms for user administration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..i18n import ROLE_LABELS


class UserForm(FlaskForm):
    """Create or edit a user; the password is required only when creating."""

    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter a username.")), Length(max=64)])
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=64)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()])
    streets = SelectMultipleField(_l("Streets covered"), coerce=int)
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=256)])
