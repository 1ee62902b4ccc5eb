"""One JSON Schema property → one Panel widget, and back: `make_field(path, schema, value)`.

    string                 TextInput (format shown as placeholder; empty = unset or null)
    enum (any type)        Select of the allowed values (plus "(none)" when nullable)
    integer / number       IntInput / FloatInput, bounded by minimum / maximum
    boolean                Checkbox
    array of enum values   MultiChoice
    array of scalars       TextAreaInput, one item a line
    anything else          TextAreaInput holding JSON (arrays of objects, free objects)

Nested objects with properties are forms of their own (schema_form.py). A value the widget
cannot turn into JSON (text in a number list, broken JSON) raises FieldInputError; every
other check is the schema's, so errors read the same as the ConfigManager's.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import panel as pn

from dataflow.errors import InvalidInput

NONE_LABEL = "(none)"
SCALARS = {"integer": int, "number": float, "string": str}


class FieldInputError(InvalidInput):
    """What was typed into a field is not a value of its kind (message for the field)."""


def schema_types(schema: dict) -> tuple[str | None, bool]:
    """(the main type, whether null is allowed) of a property schema."""
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    nullable = "null" in types or None in schema.get("enum", ())
    main = next((t for t in types if t != "null"), None)
    return main, nullable


def help_text(schema: dict) -> str:
    """The description plus the constraints and default a user needs to see."""
    parts = [schema.get("description", "")]
    for key, text in (("minimum", "min {}"), ("maximum", "max {}"),
                      ("exclusiveMinimum", "> {}"), ("exclusiveMaximum", "< {}"),
                      ("minLength", "at least {} characters"), ("pattern", "pattern {}"),
                      ("format", "format {}")):
        if key in schema:
            parts.append(text.format(schema[key]))
    if "default" in schema:
        parts.append(f"default {json.dumps(schema['default'])}")
    return " · ".join(part for part in parts if part)


@dataclass
class Field:
    """A widget for one property: `read()` gives its JSON value, `show(value)` sets it."""

    path: str
    schema: dict
    widget: Any
    parse: Callable[[Any], Any]
    render: Callable[[Any], Any]
    error: Any = field(default=None)

    def __post_init__(self):
        self.error = pn.pane.HTML("", visible=False, margin=(0, 10),
                                  css_classes=["field-error", f"error-{self.slug}"],
                                  styles={"color": "#c62828", "font-size": "0.9em"})

    @property
    def slug(self) -> str:
        return self.path.replace(".", "-")

    def read(self):
        return self.parse(self.widget.value)

    def show(self, value) -> None:
        self.widget.value = self.render(value)

    def set_error(self, message: str | None) -> None:
        self.error.object = message or ""
        self.error.visible = bool(message)

    def view(self):
        helper = pn.pane.HTML(f"<small>{help_text(self.schema)}</small>", margin=(0, 10),
                              styles={"color": "#555"})
        return pn.Column(self.widget, helper, self.error, margin=(0, 0, 6, 0))


def _text(text) -> str | None:
    """Typed text; None when empty (the form leaves an empty optional field out)."""
    text = "" if text is None else str(text)
    return text if text.strip() else None


def _enum_field(path, schema, label, nullable) -> tuple[Any, Callable, Callable]:
    options = {json.dumps(v) if not isinstance(v, str) else v: v for v in schema["enum"]}
    if nullable and None not in options.values():
        options = {NONE_LABEL: None, **options}
    widget = pn.widgets.Select(label=label, options=options)
    return widget, (lambda v: v), (lambda v: v if v in options.values() else widget.value)


def _number_field(path, schema, label, kind, nullable):
    bounds = {"start": schema.get("minimum"), "end": schema.get("maximum")}
    bounds = {key: value for key, value in bounds.items() if value is not None}
    widget_type = pn.widgets.IntInput if kind == "integer" else pn.widgets.FloatInput
    step = {} if kind == "integer" else {"step": 0.1}
    widget = widget_type(label=label, value=None, **bounds, **step)
    return widget, (lambda v: v), (lambda v: v if isinstance(v, (int, float))
                                   and not isinstance(v, bool) else None)


def _lines_field(path, schema, label, item_kind):
    convert = SCALARS[item_kind]
    widget = pn.widgets.TextAreaInput(label=f"{label} (one a line)", height=90)

    def parse(text):
        items = [line.strip() for line in (text or "").splitlines() if line.strip()]
        try:
            return [convert(item) for item in items]
        except ValueError:
            raise FieldInputError(f"every line must be a {item_kind}") from None
    return widget, parse, (lambda v: "\n".join(map(str, v)) if isinstance(v, list) else "")


def _json_field(path, schema, label):
    widget = pn.widgets.TextAreaInput(label=f"{label} (JSON)", height=90)

    def parse(text):
        if not (text or "").strip():
            return None
        try:
            return json.loads(text)
        except ValueError as error:
            raise FieldInputError(f"not valid JSON: {error}") from None
    return widget, parse, (lambda v: "" if v is None else json.dumps(v, indent=1))


def _array_field(path, schema, label):
    items = schema.get("items") or {}
    if "enum" in items:
        widget = pn.widgets.MultiChoice(label=label, options=list(items["enum"]))
        return widget, list, (lambda v: [i for i in v if i in items["enum"]]
                              if isinstance(v, list) else [])
    item_kind, _ = schema_types(items)
    if item_kind in SCALARS:
        return _lines_field(path, schema, label, item_kind)
    return _json_field(path, schema, label)


def _widget_for(path: str, schema: dict, label: str):
    kind, nullable = schema_types(schema)
    if "enum" in schema:
        return _enum_field(path, schema, label, nullable)
    if kind == "boolean":
        return pn.widgets.Checkbox(label=label), bool, bool
    if kind in ("integer", "number"):
        return _number_field(path, schema, label, kind, nullable)
    if kind == "string":
        placeholder = schema.get("format", "")
        widget = pn.widgets.TextInput(label=label, placeholder=placeholder)
        return widget, _text, (lambda v: "" if v is None else str(v))
    if kind == "array":
        return _array_field(path, schema, label)
    return _json_field(path, schema, label)


def make_field(path: str, schema: dict, value: Any = None) -> Field:
    """The field of property `path` (dotted), showing `value` (else its default)."""
    label = schema.get("title") or path.rsplit(".", 1)[-1]
    widget, parse, render = _widget_for(path, schema, label)
    widget.css_classes = [*widget.css_classes, "config-field", f"field-{path.replace('.', '-')}"]
    if "description" in schema:
        widget.description = schema["description"]
    made = Field(path, schema, widget, parse, render)
    made.show(schema.get("default") if value is None else value)
    return made
