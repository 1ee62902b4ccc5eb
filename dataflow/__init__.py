"""dataflow: a Dask-backed pipeline engine.

    from dataflow import Project, Engine
    project = Project("path/to/project")
    with Engine(project) as engine:
        result = engine.run("default")

Names are imported on first use (PEP 562), so `import dataflow` stays cheap for
commands that never touch Dask.
"""
import importlib
from typing import Any

_ERRORS = ("AlreadyExists", "ConfigError", "ConfigValidationError", "Conflict", "DataflowError",
           "InvalidInput", "NotFound", "NotResumable", "NotRunning", "PipelineNotFound",
           "PluginError", "PluginFailed", "PluginNotFound", "Problem", "RunNotFound",
           "RunTimeout", "StillRunning", "StoreError", "StoreUnavailable")
_EXPORTS = {
    "Context": "dataflow.worker.context", "Engine": "dataflow.run.engine",
    "RunResult": "dataflow.run.result", "Project": "dataflow.project",
    "ConfigManager": "dataflow.config.manager", "RunStatus": "dataflow.statuses",
    "TaskStatus": "dataflow.statuses", **{name: "dataflow.errors" for name in _ERRORS},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dataflow' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
