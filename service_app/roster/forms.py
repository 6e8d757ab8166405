"""The upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import Optional, ValidationError

from ..i18n import MODE_LABELS
from .cells import CellError, parse_quarter


class UploadForm(FlaskForm):
    """Choose a roster file and how to import it."""

    file = FileField(_l("Roster file (.xlsx, .xls, .ods, .csv)"), validators=[FileRequired(_l("Choose a file."))])
    mode = SelectField(_l("Mode"), choices=[SelectChoice(m.value, label) for m, label in MODE_LABELS.items()])
    quarter = StringField(_l("Quarter of the figures, if the file has no quarter column"), validators=[Optional()])
    overwrite_blanks = BooleanField(_l("Empty cells clear stored values"))
    skip_invalid = BooleanField(_l("Import the valid rows and skip the invalid ones"))

    def validate_quarter(self, field: StringField) -> None:
        """2026Q3, 2026年第三季度 and the other accepted forms."""
        if field.data:
            try:
                field.data = parse_quarter(field.data)
            except CellError as exc:
                raise ValidationError(_l("Enter a quarter such as 2026Q3.")) from exc
