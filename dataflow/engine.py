"""The engine: turns a pipeline into a Dask graph, runs it, and records what happened.

History is written by the Recorder in bulk on its own thread; task state comes
back from the workers as events, never with the outputs, which stay on the workers.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime, timezone

from distributed import wait

from dataflow.cluster import dashboard_link, start_client
from dataflow.events import TOPIC, add_local_listener, remove_local_listener
from dataflow.graph import submit_graph
from dataflow.plan import build_plan
from dataflow.reconcile import reconcile
from dataflow.result import RunHandle, RunResult
from dataflow.services import RunEnv
from dataflow.tracker import RUN_RUNNING, RunTracker

FINISH_EVENT_GRACE = 2.0     # seconds to wait for end events after the futures are done


class Engine:
    """Runs pipelines of one project on one Dask client (started on first use)."""

    def __init__(self, project, client=None, listeners=()):
        self.project = project
        self.listeners = list(listeners)
        self._client, self._cluster, self._owns_client = client, None, client is None
        self._active: dict[str, RunHandle] = {}
        self._subscribed = False
        add_local_listener(self._route)

    @property
    def client(self):
        if self._client is None:
            self._client, self._cluster = start_client(self.project.settings.cluster)
        if not self._subscribed:
            self._client.subscribe_topic(TOPIC, lambda event: self._route(event[1]))
            self._subscribed = True
        return self._client

    @property
    def dashboard(self) -> str | None:
        return dashboard_link(self.client)

    def _route(self, event: dict) -> None:
        handle = self._active.get(event.get("run_id"))
        if handle is not None:
            handle.tracker.handle(event)

    def plan(self, pipeline: str):
        return build_plan(self.project, pipeline)

    def start(self, pipeline: str, trigger: str = "api", listeners=()) -> RunHandle:
        """Plan, record and submit a run; returns at once."""
        plan = build_plan(self.project, pipeline)
        run_id = uuid.uuid4().hex
        env = RunEnv(run_id, pipeline, str(self.project.directory), self.project.store,
                     datetime.now(timezone.utc), priority=plan.priority,
                     log_level=self.project.settings.log_level)
        tracker = RunTracker(run_id, plan, self.project.recorder, self.listeners + list(listeners))
        handle = RunHandle(run_id, plan, env, {}, tracker, time.time())
        self._record_start(handle, trigger)
        self._active[run_id] = handle
        handle.futures = submit_graph(self.client, env, plan)
        return handle

    def _record_start(self, handle: RunHandle, trigger: str) -> None:
        recorder, env, plan = self.project.recorder, handle.env, handle.plan
        recorder.record("runs", handle.run_id, {
            "pipeline": env.pipeline, "trigger": trigger, "status": RUN_RUNNING,
            "started": env.start_time, "hooks": list(plan.hooks), "priority": plan.priority,
            "host": socket.gethostname(), "pid": os.getpid(),
            "project": env.project_dir})
        for task in plan.tasks:
            recorder.record("tasks", f"{handle.run_id}:{task.task_id}", {
                "run_id": handle.run_id, "pipeline": env.pipeline, "hook": task.hook,
                "hook_index": task.hook_index, "plugin": task.plugin, "status": "pending",
                "plugin_version": task.version, "source_hash": task.ref.source_hash,
                "config": task.config, "fail_hard": task.fail_hard})

    def wait(self, handle: RunHandle, timeout: float | None = None) -> RunResult:
        """Block until the run ends; record and return its result."""
        wait(list(handle.futures.values()), timeout=timeout)
        if not handle.tracker.wait_finished(FINISH_EVENT_GRACE):
            reconcile(self.client, handle)
        return self._finish(handle)

    def _finish(self, handle: RunHandle) -> RunResult:
        tracker = handle.tracker
        status, duration = tracker.status(), round(time.time() - handle.started, 4)
        self.project.recorder.record("runs", handle.run_id, {
            "status": status, "finished": datetime.now(timezone.utc), "duration": duration,
            "counts": tracker.counts(), "error": tracker.first_error()})
        self._active.pop(handle.run_id, None)
        return RunResult(handle.run_id, handle.plan.pipeline, status, duration,
                         dict(tracker.tasks), tracker.first_error(), handle.futures)

    def run(self, pipeline: str, trigger: str = "api", listeners=()) -> RunResult:
        return self.wait(self.start(pipeline, trigger, listeners))

    def close(self) -> None:
        remove_local_listener(self._route)
        self.project.recorder.flush()
        if self._owns_client and self._client is not None:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        self._client = self._cluster = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
