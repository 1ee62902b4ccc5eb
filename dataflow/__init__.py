"""dataflow: a Dask-backed pipeline engine.

    from dataflow import Project, Engine
    project = Project("path/to/project")
    with Engine(project) as engine:
        result = engine.run("default")
"""
from dataflow.context import Context
from dataflow.engine import Engine
from dataflow.errors import (ConfigError, DataflowError, PipelineNotFound, PluginError, Problem,
                             RunNotFound, StoreError)
from dataflow.project import Project
from dataflow.result import RunResult

__all__ = ["ConfigError", "Context", "DataflowError", "Engine", "PipelineNotFound",
           "PluginError", "Problem", "Project", "RunNotFound", "RunResult", "StoreError"]
