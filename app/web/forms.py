"""The lead form, built from the field catalogue; its rules are the API's (validation.py)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field as FormField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import DateTimeLocalInput, EmailInput, NumberInput, TelInput, URLInput

from app.leads.fields import WRITABLE, Field, Kind
from app.leads.serialize import iso
from app.leads.validation import Source as InputSource
from app.leads.validation import ValidationError, validate
from app.models import Lead

FORM_FIELDS: tuple[Field, ...] = tuple(f for f in WRITABLE if f.name != "archived")
BOOLEAN_CHOICES = [
    SelectChoice("", "Not known"),
    SelectChoice("true", "Yes"),
    SelectChoice("false", "No"),
]


def _widget_field(field: Field) -> FormField:
    """A text-valued form field with the input type that fits the kind (keyboard, picker)."""
    kwargs: dict[str, Any] = {"label": field.label, "name": field.json, "id": f"field-{field.json}"}
    attrs: dict[str, Any] = {"maxlength": field.max_length} if field.max_length else {}
    if field.required:
        attrs["required"] = True
    match field.kind:
        case Kind.BOOLEAN:
            return SelectField(choices=BOOLEAN_CHOICES, validate_choice=False, **kwargs)
        case Kind.EMAIL:
            widget = EmailInput()
        case Kind.PHONE:
            widget = TelInput()
        case Kind.URL:
            widget = URLInput()
        case Kind.INTEGER:
            widget, attrs = NumberInput(step=1, min=field.min_value, max=field.max_value), {}
        case Kind.MONEY:
            widget, attrs = NumberInput(step="0.01", min=field.min_value, max=field.max_value), {}
        case Kind.DATETIME:
            widget, attrs = DateTimeLocalInput(), {}
        case _ if field.multiline:
            return TextAreaField(render_kw=attrs | {"rows": 4}, **kwargs)
        case _:
            return StringField(render_kw=attrs, **kwargs)
    return StringField(widget=widget, render_kw=attrs, **kwargs)


class LeadFormBase(FlaskForm):
    version = HiddenField()  # the lead's version when the form was opened

    def cleaned(self, *, partial: bool) -> dict[str, Any]:
        """The lead values from the form, checked by the API's rules; errors land on fields."""
        raw = {f.json: self[f.name].data or "" for f in FORM_FIELDS}
        try:
            return validate(raw, InputSource.FORM, partial=partial)
        except ValidationError as error:
            by_json = {f.json: f.name for f in FORM_FIELDS}
            for key, messages in error.errors.items():
                self[by_json[key]].errors = list(messages)
            raise

    def edited(self, lead: Lead) -> set[str]:
        """The fields whose input no longer shows the lead's current value."""
        return {
            f.name
            for f in FORM_FIELDS
            if not _same_text(self[f.name].data or "", form_text(f, getattr(lead, f.name)))
        }

    def fill(self, lead: Lead) -> None:
        """Show a lead's current values."""
        for field in FORM_FIELDS:
            self[field.name].data = form_text(field, getattr(lead, field.name))
        self.version.data = str(lead.version)


def form_text(field: Field, value: Any) -> str:
    """A value as the form's input shows it."""
    if value is None:
        return ""
    if field.kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if field.kind is Kind.DATETIME:
        return iso(value)[:16]  # datetime-local: YYYY-MM-DDTHH:MM (UTC)
    return str(value)


def _same_text(typed: str, shown: str) -> bool:
    """Whether an input still holds what the form showed (browsers send newlines as CRLF)."""
    return typed.strip().replace("\r\n", "\n") == shown.replace("\r\n", "\n")


LeadForm = type("LeadForm", (LeadFormBase,), {f.name: _widget_field(f) for f in FORM_FIELDS})
