"""The control panel's pages, served by `dataflow serve` (dataflow/web/server.py calls
`build_pages(web)` and hands the result to `pn.serve`) or by `panel serve dashboards/app.py`.

    /            overview: pipelines, triggers, the machine, the Dask task stream
    /runs        the run history: filters, paging, bulk cancel / resume, compare pick
    /run?id=     one run, live: graph, timeline, tasks, logs, actions
    /plugins     plugins, tags, load errors;  /plugin?id=  its metadata and config forms
    /compare?a=&b=   two runs side by side

Run as a script by `panel serve dashboards/app.py`, this module builds one WebContext for
the project in the current directory ($DATAFLOW_PROJECT wins) once per process, and
serves the same pages on its one route, chosen by `?page=` (links keep to that form).
"""
from __future__ import annotations

from collections.abc import Callable

import panel as pn

from dashboards.live import hub_for, stop_hub
from dashboards.pages.compare import compare_page
from dashboards.pages.overview import overview_page
from dashboards.pages.plugins import plugin_page, plugins_page
from dashboards.pages.run import run_page
from dashboards.pages.runs import runs_page
from dashboards.site import ROUTES, Site, session_arg
from dashboards.standalone import shared_context

PAGES: dict[str, Callable[[Site], object]] = {
    "overview": overview_page, "runs": runs_page, "run": run_page, "plugins": plugins_page,
    "plugin": plugin_page, "compare": compare_page}


def new_site(web, mode: str = "routes") -> Site:
    """A Site for the current session, closed (subscriptions, callbacks) when it ends."""
    site = Site(web, hub_for(web), mode)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(site.close)
    return site


def session_page(web, page: Callable[[Site], object]) -> Callable[[], object]:
    """What pn.serve calls once per browser session for one route."""
    def build():
        return page(new_site(web))
    build.__name__ = f"dataflow_{page.__name__}"
    return build


def build_pages(web) -> dict[str, Callable[[], object]]:
    """{route: page function} for pn.serve."""
    hub_for(web)
    return {ROUTES[name]: session_page(web, page) for name, page in PAGES.items()}


def stop_pages(web) -> None:
    """Stop the pages' background work (the LiveHub's watcher) when the server stops."""
    stop_hub(web)


def standalone_page():
    """The page for `panel serve dashboards/app.py`: ?page=overview|runs|run|plugins|..."""
    name = session_arg("page", "overview")
    page = PAGES.get(name, overview_page)
    return page(new_site(shared_context(), mode="query"))


if __name__.startswith("bokeh_app"):
    standalone_page().servable(title="dataflow")
