"""The control panel inline in a notebook: `panel_for(engine)` gives the pages as tabs
(Overview, Runs, Run, Plugins, Compare) over the engine's RunService; `Engine.panel()`
calls it. Links between pages become tab switches: opening a run shows it in the Run tab.

    import panel as pn; pn.extension()
    from dashboards.notebook import panel_for, service_for
    view = panel_for(engine); view                        # the tabs, live
    run_id = service_for(engine).trigger("default", trigger="notebook")
    run_panel(engine, run_id)                             # that run, live
    close_panels(engine)                                  # before engine.close()
"""
from __future__ import annotations

import weakref

import panel as pn

from dashboards.live import hub_for, stop_hub
from dashboards.pages.compare import ComparePage
from dashboards.pages.overview import Overview
from dashboards.pages.plugins import PluginList, PluginPage
from dashboards.pages.run import run_view
from dashboards.pages.runs import RunsView
from dashboards.site import Site
from dataflow.run.service import RunService
from dataflow.web.context import WebContext

_contexts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
TABS = ("Overview", "Runs", "Run", "Plugins", "Compare")
SITES = "dashboards.sites"       # the inline pages of a context, closed by close_panels


def context_for(engine) -> WebContext:
    """One WebContext (one RunService) per engine, made on first use."""
    web = _contexts.get(engine)
    if web is None:
        web = _contexts[engine] = WebContext(RunService(engine),
                                             dask_dashboard=engine.dashboard)
        hub_for(web)
    return web


def _site(engine, **kwargs) -> Site:
    web = context_for(engine)
    site = Site(web, hub_for(web), mode="inline", **kwargs)
    web.extras.setdefault(SITES, []).append(site)
    return site


def close_panels(engine) -> None:
    """Stop the inline pages' live updates and the runs their service still runs."""
    web = _contexts.pop(engine, None)
    if web is None:
        return
    for site in web.extras.get(SITES, []):
        site.close()
    stop_hub(web)
    web.service.shutdown()


def service_for(engine) -> RunService:
    """The RunService the inline pages act through (trigger here to see runs live)."""
    return context_for(engine).service


def _plugins_tab(site: Site):
    chooser = pn.widgets.Select(label="Plugin", options=sorted(site.project.registry.plugins))
    box = pn.Column(sizing_mode="stretch_width")

    def show(*_):
        box.objects = [PluginPage(site, chooser.value).view()] if chooser.value else []
    chooser.param.watch(show, "value")
    show()
    return pn.Column(PluginList(site).view(), chooser, box, sizing_mode="stretch_width")


def panel_for(engine, run_id: str | None = None) -> pn.Tabs:
    """The pages as tabs; `run_id` opens that run in the Run tab."""
    run_box = pn.Column(pn.pane.HTML("<i>Open a run from Overview or Runs.</i>"),
                        sizing_mode="stretch_width")
    tabs = pn.Tabs(dynamic=False, sizing_mode="stretch_width")

    def open_run(chosen: str) -> None:
        run_box.objects = [run_view(site, chosen)]
        tabs.active = TABS.index("Run")
    site = _site(engine, open_run=open_run)
    tabs.extend([("Overview", Overview(site).view()), ("Runs", RunsView(site).view()),
                 ("Run", run_box), ("Plugins", _plugins_tab(site)),
                 ("Compare", ComparePage(site).view())])
    if run_id:
        open_run(run_id)
    return tabs


def run_panel(engine, run_id: str):
    """One run's page on its own, following it live."""
    return run_view(_site(engine), run_id)
