"""WTForms' attributes written by form_widgets.html_params are WTForms' own, character for
character, and the installed writer is the one every widget and label uses."""

from __future__ import annotations

import pytest
import wtforms
from markupsafe import Markup
from wtforms import Form, SelectChoice

from service_app import form_widgets
from service_app.form_widgets import WTFORMS_HTML_PARAMS, html_params

ATTRIBUTES = [
    {},
    {"name": "q", "id": "q", "type": "text", "value": ""},
    {"class_": "form-control is-invalid", "for_": "notes"},
    {"data_bs_toggle": "tab", "aria_describedby": "help-text", "data_": "x"},
    {"required": True, "disabled": False, "readonly": True, "multiple": False},
    {"value": '" onmouseover="x', "title": "<script>alert(1)</script>", "alt": "a & b 'c'"},
    {"value": Markup('<b class="x">bold</b>'), "label": Markup("&amp; already")},
    {"value": None, "maxlength": 200, "step": 0.5, "min": 0},
    {"placeholder": "企业名称 · 统一社会信用代码", "value": "杭州临平·数字时尚"},
    {"odd key": "v", 'q"uote': "v", "<tag>": "v"},
]


@pytest.mark.parametrize("attributes", ATTRIBUTES)
def test_the_same_text_as_wtforms(attributes):
    ours = html_params(**attributes)
    assert ours == WTFORMS_HTML_PARAMS(**attributes)
    assert isinstance(ours, Markup)


class AllWidgets(Form):
    name = wtforms.StringField("名称 <b>", render_kw={"placeholder": '"引号"'})
    day = wtforms.DateField("Day")
    notes = wtforms.TextAreaField("Notes")
    kind = wtforms.SelectField("Kind", choices=[SelectChoice("a", "甲 & 乙"), SelectChoice("b", '"b"')])
    streets = wtforms.SelectMultipleField(
        "Streets", choices=[SelectChoice("1", "临平街道"), SelectChoice("2", "南苑街道")]
    )
    flag = wtforms.BooleanField("Flag")
    choice = wtforms.RadioField("Choice", choices=[SelectChoice("x", "X"), SelectChoice("y", "Y")])
    secret = wtforms.HiddenField(default='x" y')
    go = wtforms.SubmitField("Go")


def rendered(form: Form) -> list[str]:
    return [str(part) for field in form for part in (field(class_="form-control", data_test="t"), field.label())]


def test_every_widget_and_label_renders_as_with_wtforms_own_writer(monkeypatch):
    form = AllWidgets(data={"name": '<x> & "y"', "kind": "b", "streets": ["2"], "flag": True, "choice": "y"})
    form_widgets.install()
    ours = rendered(form)
    for place, name in (
        (wtforms.widgets.core, "html_params"),
        (wtforms.widgets, "html_params"),
        (wtforms.widgets.core.Input, "html_params"),
        (wtforms.widgets.core.Button, "html_params"),
    ):
        monkeypatch.setattr(
            place, name, staticmethod(WTFORMS_HTML_PARAMS) if isinstance(place, type) else WTFORMS_HTML_PARAMS
        )
    assert ours == rendered(form)


def test_installed_where_widgets_and_labels_look(app):
    assert wtforms.widgets.core.html_params is html_params
    assert wtforms.widgets.html_params is html_params
    assert wtforms.widgets.core.Input.html_params is html_params
    assert wtforms.widgets.core.Button.html_params is html_params
