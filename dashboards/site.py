"""What every page of a session shares: the server's WebContext and LiveHub, how pages
link to each other, the page shell (title, navigation, messages) and the session's
periodic callbacks and subscriptions, cleaned up when the session ends.

Links depend on how the pages are served:

    routes   `dataflow serve` (pn.serve of build_pages): /, /runs, /run?id=..., ...
    query    `panel serve dashboards/app.py`: one route, ?page=run&id=...
    inline   a notebook: no URLs; `open_run` shows a run in the notebook's Run tab
"""
from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import overload
from urllib.parse import urlencode

import panel as pn

from dashboards.live import CURRENT, LiveHub, Pusher
from dataflow.web.context import WebContext

PAGES = {"overview": "Overview", "runs": "Runs", "plugins": "Plugins", "compare": "Compare"}
ROUTES = {"overview": "/", "runs": "/runs", "run": "/run", "plugins": "/plugins",
          "plugin": "/plugin", "compare": "/compare"}
CSS = """
:host { font-family: system-ui, sans-serif; }
.nav a { margin-right: 14px; text-decoration: none; font-weight: 600; color: #1f4e79; }
"""


@overload
def session_arg(name: str, default: None = None) -> str | None: ...
@overload
def session_arg(name: str, default: str) -> str: ...
def session_arg(name: str, default: str | None = None) -> str | None:
    """A query argument of this session's URL (`/run?id=...`), decoded."""
    values = (pn.state.session_args or {}).get(name) or []
    if not values:
        return default
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class Site:
    """One browser session's (or notebook view's) access to the server."""

    web: WebContext
    hub: LiveHub
    mode: str = "routes"
    base: str = ""
    open_run: Callable[[str], None] | None = None
    pusher: Pusher = field(default_factory=Pusher)
    tokens: list[int] = field(default_factory=list)
    callbacks: list = field(default_factory=list)

    @property
    def service(self):
        return self.web.service

    @property
    def project(self):
        return self.web.project

    @property
    def db(self):
        return self.web.project.db

    @property
    def inline(self) -> bool:
        return self.mode == "inline"

    def href(self, page: str, **args) -> str | None:
        args = {key: value for key, value in args.items() if value not in (None, "")}
        if self.mode == "inline":
            return None
        if self.mode == "query":
            return f"{self.base}?{urlencode({'page': page, **args})}"
        query = f"?{urlencode(args)}" if args else ""
        return f"{ROUTES[page]}{query}"

    def link(self, page: str, text: str, css: str = "", **args) -> str:
        """An <a> to a page (plain text when inline)."""
        href = self.href(page, **args)
        text = html.escape(text)
        return f'<a class="{css}" href="{html.escape(href)}">{text}</a>' if href else text

    # session resources -----------------------------------------------------------------
    def every(self, seconds: float, callback: Callable[[], None]):
        """A periodic callback of this session (stopped when the session ends)."""
        handle = pn.state.add_periodic_callback(callback, period=int(seconds * 1000))
        self.callbacks.append(handle)
        return handle

    def watch_runs(self, callback: Callable[[], None], seen=CURRENT) -> None:
        """Call `callback` on this session's thread whenever runs start, end or change.
        Call it before the page's first query, or pass `seen` (the hub's marker then)."""
        self.tokens.append(self.hub.watch(self.pusher, callback, seen))

    def follow_run(self, run_id: str, apply: Callable[[list[dict]], None]) -> int:
        token = self.hub.follow(run_id, self.pusher, apply)
        self.tokens.append(token)
        return token

    def close(self, *_) -> None:
        for token in self.tokens:
            self.hub.unsubscribe(token)
        for handle in self.callbacks:
            handle.stop()
        self.tokens, self.callbacks = [], []

    # the page shell --------------------------------------------------------------------
    def nav(self):
        if self.inline:
            return pn.pane.HTML("")
        links = " ".join(self.link(page, title, css=f"nav-{page}")
                         for page, title in PAGES.items())
        return pn.pane.HTML(f'<div class="nav"><b style="margin-right:20px">dataflow</b>'
                            f'{links}</div>', sizing_mode="stretch_width")

    def shell(self, title: str, *body):
        return pn.Column(self.nav(), pn.pane.HTML(f"<h2>{html.escape(title)}</h2>",
                                                  css_classes=["page-title"]),
                         *body, sizing_mode="stretch_width", stylesheets=[CSS])


class Messages:
    """A line telling the user what an action did or why it was refused."""

    def __init__(self):
        self.pane = pn.pane.HTML("", css_classes=["message"], sizing_mode="stretch_width")

    def ok(self, text: str, link: str = "") -> None:
        self.pane.object = (f'<div class="message-ok" style="color:#1b5e20">'
                            f'{html.escape(text)} {link}</div>')

    def error(self, text: str) -> None:
        self.pane.object = (f'<div class="message-error" style="color:#c62828">'
                            f'{html.escape(text)}</div>')

    def clear(self) -> None:
        self.pane.object = ""
