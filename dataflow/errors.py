"""Every error dataflow raises on purpose, under one root.

    DataflowError
    ├── ConfigError            a config file or value is wrong (carries Problems)
    ├── PluginError            a plugin cannot be loaded or is unknown
    ├── StoreError             the run-history store is unreachable or inconsistent
    ├── RunNotFound            no run with that id
    └── PipelineNotFound       no pipeline with that name

A `Problem` is one thing wrong with the user's input: where (file, key, line),
what, and how to fix it. Validation collects all of them before failing.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project, located precisely enough to fix it."""

    file: str
    key: str
    message: str
    fix: str = ""
    line: int | None = None

    def location(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where} [{self.key}]" if self.key else where

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text

    def as_dict(self) -> dict:
        return {"file": self.file, "key": self.key, "line": self.line,
                "message": self.message, "fix": self.fix}


class DataflowError(Exception):
    """Root of dataflow's own errors; the CLI prints these without a traceback."""


class ConfigError(DataflowError):
    """The project's configuration is invalid; `problems` lists every issue."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the project configuration"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class PluginError(DataflowError):
    """A plugin is unknown or cannot be used."""


class StoreError(DataflowError):
    """The store (MongoDB) cannot be reached or used."""


class RunNotFound(DataflowError):
    def __init__(self, run_id: str, ambiguous: bool = False):
        self.run_id = run_id
        if ambiguous:
            super().__init__(f"{run_id!r} matches more than one run; give more characters "
                             "of the id (see `dataflow runs`)")
        else:
            super().__init__(f"no run with id {run_id!r}; list runs with `dataflow runs`")


class PipelineNotFound(DataflowError):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        known_text = ", ".join(sorted(known)) or "none defined"
        super().__init__(
            f"no pipeline named {name!r} (known: {known_text}); define it under `pipelines:` "
            f"in config/pipelines.yaml, or store it with `dataflow pipelines create {name} "
            "--hooks HOOK,...`")
