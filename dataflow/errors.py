"""Every error dataflow raises on purpose, under one root.

    DataflowError                    the CLI prints these without a traceback
    ├── NotFound                     404: no such thing
    │   ├── RunNotFound              no run with that id (or the prefix is ambiguous)
    │   ├── PipelineNotFound         no pipeline with that name
    │   └── PluginNotFound           no plugin with that id (also a PluginError)
    ├── Conflict                     409: the request clashes with the current state
    │   ├── NotRunning               cancel of a run that is not running
    │   ├── StillRunning             an action that needs a finished run
    │   ├── NotResumable             resume of a run in a status that cannot be resumed
    │   ├── AlreadyExists            a name already taken (duplicate)
    │   └── PreconditionUnmet        not started: an upstream is stale or a gate is closed
    ├── InvalidInput                 422: the user's input is wrong (carries Problems)
    │   ├── ConfigError              a config file is wrong
    │   ├── ConfigValidationError    a plugin config does not match its CONFIG_SCHEMA
    │   └── PipelineValidationError  a stored pipeline definition is wrong
    ├── NotAProject                  the folder has no config/pipelines.yaml (nothing created)
    ├── StoreUnavailable             503: MongoDB cannot be reached (says how; exit 5)
    │   └── EmbeddedStoreError       the embedded server could not be started
    ├── PermissionDenied             a file or folder cannot be written or read (exit 6)
    ├── SchedulerUnreachable         cluster.address / $DATAFLOW_SCHEDULER does not answer (exit 7)
    ├── CheckpointUnreadable         a checkpoint file is corrupt or outside its folder
    ├── PluginError                  a plugin is unknown or cannot be used
    │   └── PluginFailed             a plugin raised (its id, hook, error)
    │       ├── FatalError           a plugin logged FATAL: the pipeline stops
    │       └── OutputInvalid        a plugin's output breaks its OUTPUT_SCHEMA
    ├── RunTimeout                   a run did not end within the caller's timeout
    ├── AlertSendError               a Slack or email alert could not be delivered
    └── JobsCancelled                a plugin's jobs were cancelled with its run

`StoreError`: old name of `StoreUnavailable`. `Problem` (problems.py): where, what, the fix.
"""
from __future__ import annotations

from collections.abc import Iterable

# re-exported: the rest of the code imports them from here
from dataflow.problems import Problem as Problem, did_you_mean as did_you_mean


class DataflowError(Exception):
    """Root of dataflow's own errors; the CLI prints these without a traceback."""

    exit_code = 1


class NotFound(DataflowError):
    """Something asked for by id or name does not exist."""


class Conflict(DataflowError):
    """The request is valid but clashes with the current state of a run or a name."""


class InvalidInput(DataflowError):
    """The user's input is wrong; `problems` says where and how to fix it."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        super().__init__(message)

    def field_errors(self) -> list[dict]:
        """[{field, message}] for an API or a form to show at the field."""
        return [{"field": p.key, "message": p.message} for p in self.problems]


class NotAProject(NotFound):
    """The folder given as a project has no config/pipelines.yaml."""


class StoreUnavailable(DataflowError):
    """The store (MongoDB) cannot be reached or used; the message says how to fix it."""
    exit_code = 5


class PermissionDenied(DataflowError):
    """The operating system refused access to a file or folder."""
    exit_code = 6


class SchedulerUnreachable(DataflowError):
    """The configured Dask scheduler does not answer."""
    exit_code = 7


class CheckpointUnreadable(DataflowError):
    """A checkpoint cannot be used: corrupt, or outside the project's checkpoint folder."""


StoreError = StoreUnavailable


class EmbeddedStoreError(StoreUnavailable):
    """The embedded server could not be started or reached."""


class PluginError(DataflowError):
    """A plugin is unknown or cannot be used."""


class PluginFailed(PluginError):
    """A plugin's code raised or refused its output."""


class FatalError(PluginFailed):
    """Raised by `log.fatal(...)`: the plugin failed and the pipeline stops."""


class OutputInvalid(PluginFailed):
    """The output does not match OUTPUT_SCHEMA (never retried: the code would do it again)."""


class RunTimeout(DataflowError, TimeoutError):
    """A run did not end within the time its caller allowed; it was cancelled."""

    def __init__(self, run_id: str, timeout: float, status: str):
        self.run_id, self.timeout, self.status = run_id, timeout, status
        super().__init__(f"run {run_id} did not end within {timeout:g}s; it was cancelled "
                         f"(now {status}); resume it with `dataflow resume {run_id[:12]}`")


class AlertSendError(DataflowError):
    """An alert channel could not deliver an alert; the message is already free of secrets."""


class JobsCancelled(DataflowError):
    """The run was cancelled while the plugin waited on its jobs."""


class ConfigError(InvalidInput):
    """The project's configuration is invalid; `problems` lists every issue."""

    def __init__(self, problems: list[Problem] | Problem):
        listed = [problems] if isinstance(problems, Problem) else list(problems)
        head = f"{len(listed)} problem{'s' if len(listed) != 1 else ''} in the project configuration"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in listed), listed)


def _field_lines(errors: list[dict]) -> str:
    return "\n".join(f"  - {e['field']}: {e['message']}" for e in errors)


class ConfigValidationError(InvalidInput):
    """A config does not match the plugin's CONFIG_SCHEMA; `errors` has one entry a field."""

    def __init__(self, plugin_id: str, pipeline: str, errors: list[dict], saving: bool = True):
        self.plugin_id, self.pipeline, self.errors = plugin_id, pipeline, errors
        if saving:
            head, fix = "is invalid (nothing was saved)", "correct these fields and try again"
        else:
            head = "does not match its CONFIG_SCHEMA"
            fix = (f"see where each value comes from with `dataflow config show {plugin_id} "
                   f"--pipeline {pipeline}`, then correct it there")
        problems = [Problem("", e["field"], e["message"]) for e in errors]
        super().__init__(f"config of plugin {plugin_id!r} for pipeline {pipeline!r} {head}:\n"
                         f"{_field_lines(errors)}\nfix: {fix}", problems)


class PipelineValidationError(InvalidInput):
    """A pipeline definition breaks the pipelines.yaml rules; `errors` has one entry a field."""

    def __init__(self, name, errors: list[dict]):
        self.name, self.errors = name, errors
        problems = [Problem("", e["field"], e["message"]) for e in errors]
        super().__init__(f"pipeline {name!r} is invalid (nothing was saved):\n"
                         f"{_field_lines(errors)}\nfix: correct these fields and try again",
                         problems)


class RunNotFound(NotFound):
    def __init__(self, run_id: str, ambiguous: bool = False):
        self.run_id = run_id
        if ambiguous:
            super().__init__(f"{run_id!r} matches more than one run; give more characters "
                             "of the id (see `dataflow runs`)")
        else:
            super().__init__(f"no run with id {run_id!r}; list runs with `dataflow runs`")


class PipelineNotFound(NotFound):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        known_text = ", ".join(sorted(known)) or "none defined"
        super().__init__(f"no pipeline named {name!r}{did_you_mean(name, known)} (known: "
                         f"{known_text}); define it under `pipelines:` in config/pipelines.yaml, "
                         f"or store it with `dataflow pipelines create {name} --hooks HOOK,...`")


class PluginNotFound(NotFound, PluginError):
    def __init__(self, plugin_id: str, where: str, known: Iterable[str] = ()):
        self.plugin_id = plugin_id
        super().__init__(f"no plugin named {plugin_id!r}{did_you_mean(plugin_id, known)} {where}")


class NotRunning(Conflict):
    """Only a running run can be cancelled."""


class StillRunning(Conflict):
    """The action needs a run that has finished."""


class NotResumable(Conflict):
    """The run's status does not allow a resume, it was resumed (--again), or is being so."""


class AlreadyExists(Conflict):
    """The name is already taken."""


class PreconditionUnmet(Conflict):
    reason, wait = "", False    # the stale upstream or closed gate; on_unmet: wait (retried)


class PluginStopped(BaseException):
    """Raised inside a plugin's thread to stop it hard after the grace period.

    A BaseException, outside the tree above, so that a plugin's own `except Exception`
    does not swallow it.
    """
