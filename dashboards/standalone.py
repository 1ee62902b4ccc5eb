"""The WebContext of `panel serve dashboards/app.py`: built once per process (bokeh runs
the app script once per session; this module is imported once), from the project in
the current directory ($DATAFLOW_PROJECT wins), and shut down when the process exits."""
from __future__ import annotations

import atexit
import threading

from dashboards.live import stop_hub
from dataflow.project import Project
from dataflow.run.engine import Engine
from dataflow.run.service import RunService
from dataflow.web.context import WebContext

_lock = threading.Lock()
_context: WebContext | None = None


def shared_context() -> WebContext:
    global _context
    with _lock:
        if _context is None:
            engine = Engine(Project())
            service = RunService(engine)
            _context = WebContext(service, dask_dashboard=engine.dashboard)
            atexit.register(_close, _context)
        return _context


def _close(web: WebContext) -> None:
    stop_hub(web)
    web.service.shutdown()
    web.service.engine.close()
    web.project.close()
