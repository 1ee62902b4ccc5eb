"""dataflow: a Dask-backed pipeline engine.

    from dataflow import Project, Engine
    project = Project("path/to/project")
    with Engine(project) as engine:
        result = engine.run("default")

Names are imported on first use (PEP 562), so `import dataflow` stays cheap for
commands that never touch Dask.
"""
import importlib

_EXPORTS = {
    "Context": "dataflow.worker.context", "Engine": "dataflow.run.engine", "RunResult": "dataflow.run.result",
    "Project": "dataflow.project", "ConfigManager": "dataflow.config.manager",
    "ConfigError": "dataflow.errors", "DataflowError": "dataflow.errors",
    "PipelineNotFound": "dataflow.errors", "PluginError": "dataflow.errors",
    "Problem": "dataflow.errors", "RunNotFound": "dataflow.errors", "StoreError": "dataflow.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dataflow' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__():
    return __all__
