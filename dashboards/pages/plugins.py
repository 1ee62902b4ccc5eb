"""Plugins: every plugin with its hooks, pipelines, version, tags and where it comes from,
the plugins that failed to load and why, filterable by tag and pipeline; and one
plugin's page (/plugin?id=...): its get_metadata(), and per pipeline its config form
with Save and the version history with Restore (widgets/config_editor.py)."""
from __future__ import annotations

import html
import json

import panel as pn

from dashboards.site import Site, session_arg
from dashboards.widgets.config_editor import ConfigEditor

ANY = "(any)"


def _codes(values) -> str:
    return ", ".join(f"<code>{html.escape(str(value))}</code>" for value in values)


def plugins_html(site: Site, plugins, where: dict) -> str:
    if not plugins:
        return "<p class='no-plugins'><i>No plugin matches.</i></p>"
    rows = "".join(
        f'<tr class="plugin-row" data-plugin="{html.escape(info.id)}">'
        f'<td>{site.link("plugin", info.id, css="plugin-link", id=info.id)}</td>'
        f'<td>{html.escape(info.version)}</td><td>{_codes(info.hooks)}</td>'
        f'<td>{_codes(info.pipelines)}</td><td>{_codes(info.tags)}</td>'
        f'<td>{html.escape(where.get(info.id, info.origin))}</td>'
        f'<td>{"fail hard" if info.fail_hard else ""}</td>'
        f'<td><small>{html.escape(info.description)}</small></td></tr>' for info in plugins)
    head = "".join(f"<th style='text-align:left'>{name}</th>" for name in (
        "plugin", "version", "hooks", "pipelines", "tags", "from", "", "description"))
    return (f'<table class="plugins-table" style="width:100%"><tr>{head}</tr>{rows}</table>')


def problems_html(problems) -> str:
    if not problems:
        return "<p class='no-load-errors'><i>Every plugin loaded.</i></p>"
    items = "".join(f'<li class="load-error"><b>{html.escape(problem.location())}</b>: '
                    f'{html.escape(problem.message)} <small>({html.escape(problem.fix)})'
                    f'</small></li>' for problem in problems)
    return f"<ul class='load-errors' style='color:#c62828'>{items}</ul>"


class PluginList:
    def __init__(self, site: Site):
        self.site = site
        self.registry = site.project.registry
        tags = sorted({tag for info in self.registry.plugins.values() for tag in info.tags})
        self.tag = pn.widgets.Select(label="Tag", options=[ANY, *tags], width=160,
                                     css_classes=["filter-tag"])
        self.pipeline = pn.widgets.Select(label="Pipeline",
                                          options=[ANY, *site.project.pipelines], width=160,
                                          css_classes=["filter-plugin-pipeline"])
        self.table = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["plugins"])
        for widget in (self.tag, self.pipeline):
            widget.param.watch(lambda *_: self.refresh(), "value")
        self.refresh()

    def refresh(self) -> None:
        pick = lambda widget: None if widget.value == ANY else widget.value  # noqa: E731
        chosen = self.registry.select(tag=pick(self.tag), pipeline=pick(self.pipeline))
        self.table.object = plugins_html(self.site, chosen, self.registry.where)

    def view(self):
        return pn.Column(pn.Row(self.tag, self.pipeline), self.table,
                         pn.pane.HTML("<h3>Load errors</h3>"),
                         pn.pane.HTML(problems_html(self.registry.problems),
                                      sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


def metadata_html(described: dict) -> str:
    if described.get("metadata_error"):
        return (f"<p class='metadata-error' style='color:#c62828'>get_metadata(): "
                f"{html.escape(described['metadata_error'])}</p>")
    metadata = described.get("metadata") or {}
    if not metadata:
        return "<p class='no-metadata'><i>No get_metadata().</i></p>"
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(key))}</th><td>"
                   f"{html.escape(json.dumps(value) if not isinstance(value, str) else value)}"
                   f"</td></tr>" for key, value in metadata.items())
    return f"<table class='metadata'>{rows}</table>"


class PluginPage:
    def __init__(self, site: Site, plugin_id: str):
        self.site, self.plugin_id = site, plugin_id
        self.described = site.project.registry.describe(plugin_id)
        info = site.project.registry.get(plugin_id)
        pipelines = [name for name, pipeline in site.project.pipelines.items()
                     if info.runs_in(name) and set(info.hooks) & set(pipeline.hooks)]
        self.pipeline = pn.widgets.Select(label="Config for pipeline", options=pipelines,
                                          css_classes=["config-pipeline"], width=220)
        self.editor_box = pn.Column(sizing_mode="stretch_width")
        self.editor: ConfigEditor | None = None
        self.pipeline.param.watch(lambda *_: self.load_editor(), "value")
        self.load_editor()

    def load_editor(self) -> None:
        if not self.pipeline.value:
            self.editor_box.objects = [pn.pane.HTML("<i>The plugin runs in no pipeline.</i>")]
            return
        self.editor = ConfigEditor(self.site.project.config, self.plugin_id,
                                   self.pipeline.value, self.described.get("config_ui") or {})
        self.editor_box.objects = [self.editor.view()]

    def view(self):
        d = self.described
        error = d.get("config_ui_error")
        head = (f"<p>{html.escape(d.get('description', ''))}</p><p>version "
                f"<code>{html.escape(d['version'])}</code> · hooks {_codes(d['hooks'])} · "
                f"pipelines {_codes(d['pipelines'])} · tags {_codes(d['tags'])} · from "
                f"{html.escape(d['origin'])}</p>")
        parts = [pn.pane.HTML(head, sizing_mode="stretch_width"),
                 pn.pane.HTML("<h3>Metadata</h3>" + metadata_html(d), sizing_mode="stretch_width")]
        if error:
            parts.append(pn.pane.HTML(f"<p style='color:#c62828'>get_config_ui(): "
                                      f"{html.escape(error)} (the form below is from "
                                      f"CONFIG_SCHEMA)</p>"))
        return pn.Column(*parts, pn.pane.HTML("<h3>Config</h3>"), self.pipeline,
                         self.editor_box, sizing_mode="stretch_width")


def plugins_page(site: Site):
    return site.shell("Plugins", PluginList(site).view())


def plugin_page(site: Site):
    plugin_id = session_arg("id")
    if not plugin_id or plugin_id not in site.project.registry.plugins:
        body = pn.pane.HTML(f"<p class='no-plugin'>No plugin {html.escape(plugin_id or '')} "
                            f"(see {site.link('plugins', 'the plugins')}).</p>")
        return site.shell("Plugin", body)
    return site.shell(f"Plugin {plugin_id}", PluginPage(site, plugin_id).view())
