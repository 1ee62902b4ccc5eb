"""A form generated from a JSON Schema (CONFIG_SCHEMA, or the schema get_config_ui() gives):
Panel widgets per property, nested objects as sub-forms, values back as a dict, and
validation errors shown at the field they are about.

    form = SchemaForm(schema, current_config)
    values, errors = form.check()     # typed values, and the schema's field errors
    form.show_errors(errors)          # e.g. the ConfigManager's ConfigValidationError.errors

No browser or server is needed: the widgets are plain Panel objects.
"""
from __future__ import annotations

import html
import re

import panel as pn

from dashboards.widgets.schema_fields import Field, FieldInputError, make_field, schema_types
from dataflow.config.schema_check import config_field_errors

REQUIRED = re.compile(r"^'(?P<name>[^']+)' is a required property$")
ROOT = "(root)"


def _is_sub_form(schema: dict) -> bool:
    kind, _ = schema_types(schema)
    return kind == "object" and bool(schema.get("properties"))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class SchemaForm:
    """Widgets for an object schema; `read()` / `check()` give the values typed in."""

    def __init__(self, schema: dict, values: dict | None = None, path: str = ""):
        self.schema, self.path = schema or {}, path
        self.fields: dict[str, Field] = {}
        self.forms: dict[str, SchemaForm] = {}
        self.required = set(self.schema.get("required") or [])
        values = values if isinstance(values, dict) else {}
        for key, prop in (self.schema.get("properties") or {}).items():
            if _is_sub_form(prop):
                self.forms[key] = SchemaForm(prop, values.get(key), _join(path, key))
            else:
                self.fields[key] = make_field(_join(path, key), prop, values.get(key))
        self.error = pn.pane.HTML("", visible=False, css_classes=["form-error"],
                                  styles={"color": "#c62828"})

    # values -----------------------------------------------------------------------------
    def read(self) -> tuple[dict, list[dict]]:
        """(values, input errors): a field left empty that may not be null is left out."""
        values: dict = {}
        errors: list[dict] = []
        for key, field in self.fields.items():
            try:
                value = field.read()
            except FieldInputError as error:
                errors.append({"field": field.path, "message": str(error)})
                continue
            if value is None and not schema_types(field.schema)[1] and key not in self.required:
                continue
            values[key] = value
        for key, form in self.forms.items():
            values[key], more = form.read()
            errors += more
        return values, errors

    def check(self) -> tuple[dict, list[dict]]:
        """The values and every error (input, then the schema's), shown at their fields."""
        values, errors = self.read()
        if not errors:
            errors = config_field_errors(values, self.schema)
        self.show_errors(errors)
        return values, errors

    def set_values(self, values: dict | None) -> None:
        values = values if isinstance(values, dict) else {}
        for key, field in self.fields.items():
            field.show(values.get(key))
        for key, form in self.forms.items():
            form.set_values(values.get(key))

    # errors -----------------------------------------------------------------------------
    def all_fields(self) -> dict[str, Field]:
        found = {field.path: field for field in self.fields.values()}
        for form in self.forms.values():
            found.update(form.all_fields())
        return found

    def all_forms(self) -> dict[str, SchemaForm]:
        found = {self.path: self}
        for form in self.forms.values():
            found.update(form.all_forms())
        return found

    def _target(self, error: dict):
        """The field (or sub-form) an error is about: its path, or the closest parent."""
        path = "" if error.get("field") in (None, ROOT) else str(error["field"])
        missing = REQUIRED.match(error.get("message", ""))
        if missing:
            path = _join(path, missing.group("name"))
        fields, forms = self.all_fields(), self.all_forms()
        while True:
            if path in fields:
                return fields[path]
            if path in forms:
                return forms[path]
            if not path:
                return self
            path = path.rpartition(".")[0]

    def show_errors(self, errors: list[dict]) -> None:
        """Put each {field, message} under its field; the rest at the top of the form."""
        self.clear_errors()
        placed: dict[int, tuple] = {}
        for error in errors:
            target = self._target(error)
            where = "" if isinstance(target, Field) or error.get("field") in (
                None, ROOT, target.path) else f"{error['field']}: "
            placed.setdefault(id(target), (target, []))[1].append(where + error["message"])
        for target, messages in placed.values():
            text = "<br>".join(html.escape(message, quote=False) for message in messages)
            if isinstance(target, Field):
                target.set_error(text)
            else:
                target.error.object, target.error.visible = text, True

    def clear_errors(self) -> None:
        for field in self.all_fields().values():
            field.set_error(None)
        for form in self.all_forms().values():
            form.error.object, form.error.visible = "", False

    def errors_shown(self) -> dict[str, str]:
        """{path: message} of every error on display ("" for the form's own)."""
        shown = {path: field.error.object for path, field in self.all_fields().items()
                 if field.error.visible}
        shown.update({path: form.error.object for path, form in self.all_forms().items()
                      if form.error.visible})
        return shown

    # layout -----------------------------------------------------------------------------
    def view(self):
        parts = [self.error, *(field.view() for field in self.fields.values())]
        for key, form in self.forms.items():
            title = form.schema.get("title") or key
            description = form.schema.get("description", "")
            parts.append(pn.Card(
                *([pn.pane.HTML(f"<small>{html.escape(description)}</small>")] if description
                  else []), form.view(), title=title, collapsed=False,
                css_classes=["config-object", f"object-{form.path.replace('.', '-')}"]))
        return pn.Column(*parts, sizing_mode="stretch_width")
