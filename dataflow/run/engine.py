"""The engine: turns a pipeline into a Dask graph, runs it, and records what happened.

History is written by the Recorder in bulk on its own thread; task state comes
back from the workers as events, never with the outputs, which stay on the workers.
"""
from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from distributed import Client, LocalCluster

from dataflow.alerts.run_event import run_finished_event, run_started_event
from dataflow.run.cancel import Canceller
from dataflow.cluster.shutdown import abandon
from dataflow.cluster.client import dashboard_link, start_client
from dataflow.errors import PluginNotFound, RunTimeout
from dataflow.events import add_local_listener, remove_local_listener, subscribe, unsubscribe
from dataflow.run.graph import submit_graph
from dataflow.run.launch import new_env, record_start
from dataflow.run.listeners import ListenerSet, discover_listeners
from dataflow.run.log_file import LogFile
from dataflow.run.plan import build_plan
from dataflow.run.settle import reconcile
from dataflow.cluster.resources import Resources
from dataflow.run.result import RunHandle, RunResult
from dataflow.run.resume import resume_plan
from dataflow.run.resume_claim import ResumeClaim
from dataflow.store.control import request_cancel
from dataflow.store.retention_auto import apply_retention_later
from dataflow.run.state import RunState
from dataflow.run.atomic import settle_undo
from dataflow.run.supervisor import RunSupervisor
from dataflow.run.follow import superseded, wait_all
from dataflow.cluster.worker_setup import prepare_workers
from dataflow.cluster.code_shipping import ship_code
from dataflow.plugins.watch import PluginWatcher

if TYPE_CHECKING:
    from dataflow.model import RunPlan
    from dataflow.project import Project

log = logging.getLogger("dataflow.engine")
FINISH_EVENT_GRACE = 2.0     # seconds to wait for end events after the futures are done
CANCEL_WAIT = 30.0           # seconds a timed-out run gets to stop before it is settled


class Engine:
    """Runs pipelines of one project on one Dask client (started on first use).

    With no client given it starts the configured cluster, and on a local cluster
    the CPU governor; `govern=True` governs a client you pass in as well.
    `listeners` are called on the event thread, in order; `observers` (the user's, from
    listeners/ and entry points, and those added by `add_listener`) each on a thread of
    their own, so that one raising or hanging never harms a run. `watch=True`: hot reload.
    `dashboard=False`: a cluster this engine starts has no Dask dashboard.
    """

    def __init__(self, project: Project, client: Client | None = None,
                 listeners: Iterable[Callable[[dict], None]] = (), govern: bool | None = None,
                 watch: bool = False, dashboard: bool = True):
        self.project, self._dashboard = project, dashboard
        self.observers = ListenerSet(discover_listeners(project))
        self.listeners: list[Callable[[dict], None]] = [*listeners, self.observers]
        self._client: Client | None = client
        self._cluster: LocalCluster | None = None
        self._owns_client = client is None
        self._govern = self._owns_client if govern is None else govern
        self.active_runs: dict[str, RunHandle] = {}
        self.resources: Resources | None = None
        self._supervisor: RunSupervisor | None = None
        cluster = project.settings.cluster
        self.canceller = Canceller(lambda: self.client, cluster.cancel_grace_seconds)
        add_local_listener(self._route)
        self._watcher = PluginWatcher(project).start() if watch else None

    def watch(self) -> PluginWatcher:
        """Hot reload: saved plugin files serve the next run (docs/plugins.md); close() stops it."""
        self._watcher = self._watcher or PluginWatcher(self.project).start()
        return self._watcher

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = self.project.settings
            self._client, self._cluster = start_client(
                settings.cluster, int(settings.retry.get("worker_death_retries", 1)),
                self._dashboard)
        if self.resources is None:
            subscribe(self._client, self._route)
            prepare_workers(self._client, self.project, own_cluster=self._cluster is not None)
            self.resources = Resources(self._client, self.project.settings.cluster.cpu_target,
                                       govern=self._govern)
        return self._client

    def panel(self, run_id: str | None = None):
        """The control panel's pages as Panel tabs, for a notebook (imported on demand:
        Panel is not loaded with every engine)."""
        return importlib.import_module("dashboards.notebook").panel_for(self, run_id)

    @property
    def dashboard(self) -> str | None:
        return dashboard_link(self.client)

    def add_listener(self, listener: Callable[[dict], object], name: str | None = None) -> None:
        """Call `listener(event)` for every event of every run, on its own thread."""
        self.observers.add(listener, name)

    def _announce(self, handle: RunHandle, event: dict) -> None:
        """A run_started / run_finished event to the run's listeners (never raises)."""
        try:
            handle.state.handle(event)
        except Exception:
            log.exception("a run listener failed on %s of run %s", event["kind"], handle.run_id)

    def _route(self, event: dict) -> None:
        handle = self.active_runs.get(event.get("run_id", ""))
        if handle is not None and not superseded(handle, event):
            handle.state.handle(event)

    def plan(self, pipeline: str) -> RunPlan:
        return build_plan(self.project, pipeline)

    def start(self, pipeline: str, trigger: str = "api",
              listeners: Iterable[Callable[[dict], None]] = (), plan: RunPlan | None = None,
              use_cache: bool = True, resumed_from: str | None = None,
              run_fields: dict | None = None, submit: bool = True) -> RunHandle:
        """Plan (unless given a plan), record and submit a run; returns at once. `run_fields`
        are recorded on the run; a `logical_time` among them (a scheduled run's fire time)
        is also handed to the plugins in their context. `submit=False`: all but the submit
        (run/batch_trigger.py submits the graphs of many runs at once)."""
        plan = plan or build_plan(self.project, pipeline)
        client, run_id = self.client, uuid.uuid4().hex
        fields = dict(run_fields or {})
        env = new_env(self.project, plan, run_id, use_cache, trigger,
                      fields.get("logical_time"))
        log_file = LogFile(self.project.directory / self.project.settings.log_directory, run_id)
        run_state = RunState(run_id, plan, self.project.recorder,
                             self.listeners + list(listeners), log_file)
        handle = RunHandle(run_id, plan, env, {}, run_state, time.time())
        record_start(self.project.recorder, handle, trigger, resumed_from, fields)
        self.active_runs[run_id] = handle
        self._announce(handle, run_started_event(run_id, plan.pipeline, trigger, env.start_time))
        if self._supervisor is None:
            self._supervisor = RunSupervisor(self)
        ship_code(client, [task.ref for task in plan.tasks])   # once per source hash
        if submit:
            handle.futures = submit_graph(client, env, plan)
        return handle

    def wait(self, handle: RunHandle, timeout: float | None = None) -> RunResult:
        """Block until the run ends; record and return its result.

        With `timeout` (seconds), a run still going then is cancelled and RunTimeout raised.
        """
        try:
            wait_all(list(handle.futures.values()), timeout)
        except TimeoutError:
            self.cancel(handle.run_id)
            wait_all(list(handle.futures.values()), CANCEL_WAIT)
            result = self._settle_and_finish(handle)
            raise RunTimeout(handle.run_id, timeout or 0.0, result.status) from None
        return self._settle_and_finish(handle)

    def _settle_and_finish(self, handle: RunHandle) -> RunResult:
        reconcile(self.client, handle, settled_only=True)
        if not handle.state.wait_finished(FINISH_EVENT_GRACE):
            reconcile(self.client, handle)
        return self._finish(handle)

    def _finish(self, handle: RunHandle) -> RunResult:
        settle_undo(self.client, handle)     # atomic rollback (run/atomic.py)
        run_state = handle.state
        status, duration = run_state.status(), round(time.time() - handle.started, 4)
        error, finished = run_state.first_error(), datetime.now(timezone.utc)
        self.project.recorder.record("runs", handle.run_id, {
            "status": status, "finished": finished, "duration": duration,
            "counts": run_state.counts(), "error": error})
        self.active_runs.pop(handle.run_id, None)
        self.canceller.forget(handle.run_id)
        self._announce(handle, run_finished_event(handle.run_id, handle.plan.pipeline, status,
                                                  handle.env.start_time, finished, error))
        if run_state.log_file is not None:
            run_state.log_file.close()
        apply_retention_later(self.project, handle.plan.pipeline)   # own thread; never raises
        # Cancel flags stay set on the workers: a cancelled task Dask had already handed
        # to a worker may still reach its thread later, and must then not run.
        return RunResult(handle.run_id, handle.plan.pipeline, status, duration,
                         dict(run_state.tasks), error, handle.futures)

    def run(self, pipeline: str, trigger: str = "api",
            listeners: Iterable[Callable[[dict], None]] = (), use_cache: bool = True,
            timeout: float | None = None) -> RunResult:
        """Run a pipeline to its end (or cancel it after `timeout` seconds: RunTimeout)."""
        return self.wait(self.start(pipeline, trigger, listeners, use_cache=use_cache), timeout)

    def resume(self, run_id: str, failed_only: bool = False,
               listeners: Iterable[Callable[[dict], None]] = (),
               timeout: float | None = None, again: bool = False) -> RunResult:
        """Re-run a failed/cancelled/interrupted run; completed tasks are restored. One
        resume of a run at a time; a run resumed before only with `again`."""
        plan, old = resume_plan(self.project, run_id, failed_only, again)
        with ResumeClaim(self.project.db, old, again) as claim:
            handle = self.start(old["pipeline"], "resume", listeners, plan=plan,
                                resumed_from=old["_id"])
            claim.started(handle.run_id)
            return self.wait(handle, timeout)

    def cancel(self, run_id: str, plugin: str | None = None) -> str:
        """Cancel a run (or one plugin of it) run here or by another process."""
        handle = self.active_runs.get(run_id)
        if handle is None:
            return request_cancel(self.project.db, run_id, plugin)
        if plugin is not None and plugin not in {t.plugin for t in handle.plan.tasks}:
            raise PluginNotFound(plugin, f"in run {run_id}", [t.plugin for t in handle.plan.tasks])
        handle.state.cancelled_plugins.add(plugin)
        self.canceller.cancel(handle, plugin)
        return run_id

    def close(self, for_exit: bool = False) -> None:
        """Stop the engine. `for_exit`: the process leaves next (cluster/shutdown.py), so
        an owned cluster is left to `exit_now` to kill instead of being retired."""
        remove_local_listener(self._route)
        self.observers.stop()
        for stoppable in (self._supervisor, self.resources, self._watcher):
            if stoppable is not None:
                stoppable.stop()
        self.project.recorder.flush()
        if self._client is not None:
            unsubscribe(self._client, self._route)
        if for_exit and self._cluster is not None:
            abandon(self._cluster)
        elif self._owns_client and self._client is not None:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        self._client = self._cluster = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
