"""A warm worker server: the local cluster's workers forked from a process that has already
imported what they need, started while the orchestrator is still importing plugins.

Dask spawns each worker as a new interpreter by default: ~0.4 s of imports for Dask and
~0.2 s for dataflow in every worker, after the orchestrator has planned the run, and up to
~0.7 s more for pandas / dask.dataframe / pyarrow when the first chunk of a stream arrives.
A CLI run or resume instead starts Python's forkserver first thing, with those modules
preloaded (the data libraries only when the project's plugins import them), on the core
the orchestrator is not using; the cluster's workers are forked from it. Only a CLI
process does this: it lives for one run, so the server's environment (fixed when it
starts) is the run's. Notebooks, tests and `dataflow serve` keep Dask's spawned workers.
"""
from __future__ import annotations

import importlib.util
import itertools
import multiprocessing
import multiprocessing.forkserver
import os
from pathlib import Path

import dask.config

from dataflow.cluster.server_guard import ORCHESTRATOR_PID
from dataflow.plugins.loader import imported_names
from dataflow.plugins.shipping import python_files

# What every worker imports: the guard first (see server_guard), Dask, dataflow's task runner.
ALWAYS = ("dataflow.cluster.server_guard", "distributed", "dataflow.worker.task")
# Libraries safe to import before forking, by what a plugin imports (a chunked dask
# DataFrame is read with pandas and its parts written with pyarrow).
DATA_LIBRARIES = {"pandas": ("pandas",), "numpy": ("numpy",),
                  "pyarrow": ("pyarrow", "pyarrow.parquet"),
                  "dask.array": ("numpy", "dask.array"),
                  "dask.dataframe": ("pandas", "dask.dataframe", "pyarrow.parquet")}
# Dask's own `distributed.nanny.pre-spawn-environ` (its defaults load with `distributed`,
# which this process has not imported yet; a user's Dask config is read as usual).
DASK_PRE_SPAWN = {"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1,
                  "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
MAX_FILES_SCANNED = 500       # a plugin folder with vendored code: look no further

_started = False


def _names_in(file: Path) -> set[str]:
    try:
        return imported_names(file)
    except OSError:             # unreadable: the plugin's own import reports it
        return set()


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def data_libraries(plugin_folders: list[Path]) -> list[str]:
    """The DATA_LIBRARIES (installed) that the plugins in these folders import."""
    files = itertools.islice((file for folder in plugin_folders if folder.is_dir()
                              for file in python_files(folder)), MAX_FILES_SCANNED)
    imported = set().union(*map(_names_in, files))
    wanted: dict[str, None] = {}       # ordered, without repeats
    for library, modules in DATA_LIBRARIES.items():
        if any(name == library or name.startswith(library + ".") for name in imported):
            wanted.update(dict.fromkeys(modules))
    return [name for name in wanted if _installed(name)]


def start_worker_server(plugin_folders: list[Path]) -> None:
    """Start the forkserver this process's LocalCluster forks its workers from."""
    global _started
    if _started or "forkserver" not in multiprocessing.get_all_start_methods():
        return      # (Windows has no forkserver: Dask spawns the workers as usual)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*ALWAYS, *data_libraries(plugin_folders)])
    environment = {**_pre_spawn_environment(), ORCHESTRATOR_PID: str(os.getpid())}
    before = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)      # the server's own; this process's put back below
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _started = True


def _pre_spawn_environment() -> dict[str, str]:
    """What a Dask nanny sets before it spawns a worker (`distributed.nanny.pre-spawn-environ`,
    e.g. MALLOC_TRIM_THRESHOLD_, which only counts at a process's start, and OMP_NUM_THREADS,
    before numpy is imported), as Dask computes it: variables already set win; and, unless
    set, Dask's fixed Python hash seed."""
    configured = dask.config.get("distributed.nanny.pre-spawn-environ", default=None)
    configured = DASK_PRE_SPAWN if configured is None else configured
    environment = {name: os.environ.get(name, str(value))
                   for name, value in configured.items() if value is not None}
    if environment.get("PYTHONHASHSEED", os.environ.get("PYTHONHASHSEED")) in (None, "0"):
        environment["PYTHONHASHSEED"] = "6640"          # Dask's choice (dask/distributed#8400)
    return environment


def worker_server_started() -> bool:
    """Whether this process started a worker server (cluster/client.py forks from it)."""
    return _started
