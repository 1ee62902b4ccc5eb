"""One plugin's config for one pipeline: the form (from CONFIG_SCHEMA, or the schema or HTML
get_config_ui() gives), Save through the ConfigManager (validated, versioned; invalid
values are shown at their field and nothing is saved), and the version history with
Restore. What is saved is what differs from the defaults and YAML, so later YAML
changes still reach the fields the user did not set."""
from __future__ import annotations

import html
import json

import panel as pn

from dashboards import formats
from dashboards.site import Messages
from dashboards.widgets.schema_form import SchemaForm
from dataflow.errors import ConfigValidationError, DataflowError

AUTHOR = "ui"


def changed_from(values: dict, below: dict) -> dict:
    """The part of `values` that differs from `below` (nested objects compared per key)."""
    changed = {}
    for key, value in values.items():
        base = below.get(key)
        if isinstance(value, dict) and isinstance(base, dict):
            nested = changed_from(value, base)
            if nested:
                changed[key] = nested
        elif key not in below or value != base:
            changed[key] = value
    return changed


def history_html(entries: list[dict]) -> str:
    if not entries:
        return "<p class='no-history'><i>No stored versions: defaults and YAML apply.</i></p>"
    rows = "".join(
        f'<tr class="history-row" data-version="{entry["version"]}"><td>v{entry["version"]}</td>'
        f'<td>{formats.when(entry.get("updated"))}</td><td>{html.escape(str(entry.get("author")))}'
        f'</td><td>{html.escape(str(entry.get("plugin_version", "")))}</td>'
        f'<td>{"restores v" + str(entry["restored_from"]) if entry.get("restored_from") else ""}'
        f'</td><td><code>{html.escape(json.dumps(entry.get("config"), sort_keys=True))}</code>'
        f'</td></tr>' for entry in entries)
    return (f'<table class="history-table" style="width:100%"><tr><th>version</th>'
            f'<th>saved (UTC)</th><th>by</th><th>plugin version</th><th></th><th>stored</th>'
            f'</tr>{rows}</table>')


class ConfigEditor:
    def __init__(self, config_manager, plugin_id: str, pipeline: str, config_ui: dict):
        self.manager, self.plugin_id, self.pipeline = config_manager, plugin_id, pipeline
        self.kind = config_ui.get("kind", "schema")
        self.schema = config_ui.get("schema") or {}
        described = self.manager.describe_config(plugin_id, pipeline)
        self.form = SchemaForm(self.schema, described["config"]) if self.kind == "schema" else None
        self.json = pn.widgets.TextAreaInput(
            label="Stored config (JSON)", height=160, css_classes=["config-json"],
            value=json.dumps(described["stored"], indent=1))
        self.plugin_html = pn.pane.HTML(config_ui.get("html", ""), sizing_mode="stretch_width")
        self.state = pn.pane.HTML("", css_classes=["config-state"])
        self.save_button = pn.widgets.Button(label="Save", color="primary",
                                             css_classes=["config-save"])
        self.messages = Messages()
        self.history = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["history"])
        self.version = pn.widgets.Select(label="Version", options=[], width=120,
                                         css_classes=["restore-version"])
        self.restore_button = pn.widgets.Button(label="Restore this version",
                                                css_classes=["config-restore"])
        self.save_button.on_click(self._save_clicked)
        self.restore_button.on_click(self._restore_clicked)
        self._show_state(described)
        self._load_history()

    def _save_clicked(self, *_: object) -> None:
        self.save()             # the result shows in the messages

    def _restore_clicked(self, *_: object) -> None:
        self.restore(self.version.value)

    def _show_state(self, described: dict) -> None:
        version = described.get("version")
        sources = ", ".join(f"{key}: {source}" for key, source in
                            sorted(described.get("sources", {}).items()))
        self.state.object = (f"<small>stored version: {('v' + str(version)) if version else 'none'}"
                             f" · where each value comes from: {html.escape(sources)}</small>")

    def _load_history(self) -> None:
        entries = self.manager.history(self.plugin_id, self.pipeline)
        self.history.object = history_html(entries)
        self.version.options = {f"v{e['version']}": e["version"] for e in entries}

    def _wanted(self) -> tuple[dict | None, list[dict]]:
        """(the stored layer to save, errors) from the form or the JSON editor."""
        if self.form is None:
            try:
                return json.loads(self.json.value or "{}"), []
            except ValueError as error:
                return None, [{"field": "(root)", "message": f"not valid JSON: {error}"}]
        values, errors = self.form.check()
        if errors:
            return None, errors
        below = self.manager.effective_config(self.plugin_id, self.pipeline, stored_layer={})
        return changed_from(values, below), []

    def save(self) -> bool:
        stored, errors = self._wanted()
        try:
            if errors:
                raise ConfigValidationError(self.plugin_id, self.pipeline, errors)
            record = self.manager.update_plugin_config(self.plugin_id, self.pipeline, stored,
                                                       author=AUTHOR)
        except ConfigValidationError as error:
            self._refused(error.errors)
            return False
        except DataflowError as error:
            self.messages.error(f"not saved: {error}")
            return False
        self.messages.ok(f"saved as version {record['version']}; the next run uses it")
        self._after_change()
        return True

    def restore(self, version) -> bool:
        if version is None:
            return False
        try:
            record = self.manager.restore(self.plugin_id, self.pipeline, int(version),
                                          author=AUTHOR)
        except ConfigValidationError as error:
            self._refused(error.errors)
            return False
        except DataflowError as error:
            self.messages.error(f"not restored: {error}")
            return False
        self.messages.ok(f"version {version} restored as version {record['version']}")
        self._after_change()
        return True

    def _refused(self, errors: list[dict]) -> None:
        if self.form is not None:
            self.form.show_errors(errors)
        listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        self.messages.error(f"not saved — fix the fields marked: {listed}")

    def _after_change(self) -> None:
        described = self.manager.describe_config(self.plugin_id, self.pipeline)
        if self.form is not None:
            self.form.clear_errors()
            self.form.set_values(described["config"])
        self.json.value = json.dumps(described["stored"], indent=1)
        self._show_state(described)
        self._load_history()

    def view(self):
        if self.form is not None:
            editor = [self.form.view()]
        else:
            editor = [pn.pane.HTML("<small>This plugin draws its own form (get_config_ui()); "
                                   "edit the stored values as JSON below.</small>"),
                      self.plugin_html, self.json]
        return pn.Column(self.state, *editor, pn.Row(self.save_button), self.messages.pane,
                         pn.pane.HTML("<h4>Version history</h4>"), self.history,
                         pn.Row(self.version, self.restore_button),
                         sizing_mode="stretch_width", css_classes=["config-editor"])
