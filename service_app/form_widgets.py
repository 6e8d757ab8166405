"""WTForms' attribute writer, written faster.

WTForms writes each attribute of each rendered field through `Markup.format` (Python's
string.Formatter, escaping as it goes): a follow-up page renders ten fields and their labels,
and writing their attributes was a fifth of the page's time. `html_params` here writes the very
same text (tests/test_form_widgets.py compares the two over every kind of value); `install`
puts it where WTForms' widgets and labels look it up.
"""

from __future__ import annotations

import wtforms.widgets
import wtforms.widgets.core
from markupsafe import Markup, escape
from wtforms.widgets.core import clean_key

#: WTForms' own writer, which `html_params` must match.
WTFORMS_HTML_PARAMS = wtforms.widgets.core.html_params


def html_params(**kwargs: object) -> Markup:
    """The attributes `name="value"` in key order; `True` writes the bare name, `False` nothing
    (WTForms' html_params, with its `class_`, `for_`, `data_` and `aria_` spellings)."""
    params: list[str] = []
    for key, value in sorted(kwargs.items()):
        if value is False:
            continue
        name = escape(clean_key(key))
        if value is True:
            params.append(name)
        else:  # a Markup value is not escaped again, but its quotes still are
            params.append(f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))  # noqa: S704 - names and values escaped above


def install() -> None:
    """Make WTForms' widgets and labels write attributes with `html_params` (once per process)."""
    wtforms.widgets.core.html_params = html_params
    wtforms.widgets.html_params = html_params  # what Label reads
    for widget in (wtforms.widgets.core.Input, wtforms.widgets.core.Button):  # their own copies
        widget.html_params = staticmethod(html_params)
