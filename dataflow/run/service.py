"""Runs started from a long-lived process (the server, the cron loop, a notebook), each
followed to its end on a thread of its own, so the caller gets the run id at once.

Every face that starts or stops runs — the REST API, the Panel pages, the scheduler,
`dataflow run` handing a run to a server — goes through one RunService over one Engine,
so they share the warm cluster, its CPU governor and one view of what is running.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dataflow.errors import RunNotFound
from dataflow.run.batch_trigger import (BurstReads, PlanCache, TriggerRequest, plan_ahead,
                                        trigger_many)
from dataflow.run.overrides import apply_overrides, select_plugins
from dataflow.config.dependencies import upstream_chain
from dataflow.run.plan import build_plan, chain_plan
from dataflow.run.preconditions import check_preconditions, gate_plugins, record_gated
from dataflow.run.resume import resume_plan
from dataflow.run.resume_claim import ResumeClaim
from dataflow.store.control import mark_success

if TYPE_CHECKING:
    from dataflow.project import Project
    from dataflow.run.engine import Engine
    from dataflow.run.result import RunHandle, RunResult

SHUTDOWN_WAIT = 30.0      # seconds running runs get to stop when the service shuts down
# Results kept for wait(): the newest runs' only, as a result holds its futures, which
# hold the run's outputs on the workers (and a server runs for months).
RESULTS_KEPT = 1000


class RunService:
    """Start, cancel, resume and wait for runs of one Engine; thread-safe."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._results: dict[str, RunResult] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._run_listeners: list[Callable[[dict], None]] = []
        self._plans = PlanCache()        # trigger_many's plans, kept while unchanged
        self._resuming = threading.Lock()   # lease taken → resumed run named, one at a time

    @property
    def project(self) -> Project:
        return self.engine.project

    def add_listener(self, listener: Callable[[dict], None]) -> None:
        """Call `listener(event)` for every event of every run (live views, metrics)."""
        self.engine.listeners.append(listener)

    def plan(self, pipeline: str, overrides: dict | None = None,
             plugins: list[str] | None = None, upstream: list[str] | None = None):
        """The plan a trigger would run: validated, with overrides applied (`upstream`:
        those pipelines first, in the same graph)."""
        plan = (chain_plan(self.project, pipeline, upstream) if upstream
                else build_plan(self.project, pipeline))
        plan = select_plugins(plan, list(plugins or []))
        return apply_overrides(self.project, plan, overrides or {})

    def trigger(self, pipeline: str, *, trigger: str = "api", overrides: dict | None = None,
                plugins: list[str] | None = None, use_cache: bool = True,
                run_fields: dict[str, Any] | None = None, force: bool = False,
                with_upstream: bool = False) -> str:
        """Plan, record and submit a run; returns its id at once (the run goes on here).

        Bad input (unknown pipeline or plugin, an override the schema refuses) raises
        before anything is recorded; so does a closed gate or a stale upstream
        (PreconditionUnmet; `force` overrides the upstream; `with_upstream` runs it first).
        """
        check_preconditions(self.project, pipeline, force, with_upstream)
        chain = upstream_chain(self.project.pipelines, pipeline) if with_upstream else []
        plan, gated = gate_plugins(self.project, self.plan(pipeline, overrides, plugins, chain))
        fields = dict(run_fields or {}, **({"upstream": chain} if chain else {}),
                      **({"forced": True} if force else {}), **({"gated": gated} if gated else {}))
        if overrides:
            fields["overrides"] = overrides
        if plugins:
            fields["only_plugins"] = list(plugins)
        handle = self.engine.start(pipeline, trigger, plan=plan, use_cache=use_cache,
                                   run_fields=fields)
        record_gated(self.project.recorder, handle.run_id, pipeline, gated)
        self._follow(handle)
        return handle.run_id

    def trigger_many(self, requests: list[TriggerRequest], reads: BurstReads | None = None,
                     on_submitted: Callable[[list[str]], None] | None = None
                     ) -> list[str | Exception]:
        """Start many runs at once, each as trigger() would (a burst of scheduled fires:
        run/batch_trigger.py); per request its run id, or the error that refused it.
        `reads`: plan_ahead's; `on_submitted(run_ids)` as runs are handed to Dask."""
        return trigger_many(self, requests, self._plans, reads, on_submitted)

    def plan_ahead(self, pipelines: list[str]) -> BurstReads | None:
        """Plan these pipelines now for a trigger_many to come (the scheduler's next fire
        time); the reads made, for that trigger_many (None if they failed)."""
        return plan_ahead(self, pipelines, self._plans)

    def resume(self, run_id: str, failed_only: bool = False, trigger: str = "resume",
               again: bool = False) -> str:
        """Resume a finished run as a new run; returns the new run's id at once. Like
        Engine.resume, it holds the resume lease (run/resume_claim.py) until the resumed
        run ends: a run being resumed, or resumed before (unless `again`), is refused
        (NotResumable, naming the resuming run)."""
        plan, old = resume_plan(self.project, run_id, failed_only, again)
        with self._resuming:      # a concurrent resume here sees the new run's id
            claim = ResumeClaim(self.project.db, old, again).__enter__()
            try:
                handle = self.engine.start(old["pipeline"], trigger, plan=plan,
                                           resumed_from=old["_id"])
                claim.started(handle.run_id)
            except BaseException:
                claim.__exit__(None, None, None)
                raise
        self._follow(handle, release=claim.__exit__)
        return handle.run_id

    def cancel(self, run_id: str, plugin: str | None = None) -> str:
        """Cancel a run (or one plugin of it), here or in another process; the full id."""
        return self.engine.cancel(run_id, plugin)

    def mark_success(self, run_id: str, plugin: str) -> dict:
        return mark_success(self.project.db, run_id, plugin)

    def _adopt(self, run_ids: list[str], thread: threading.Thread) -> None:
        """Runs followed by `thread` (run/batch_follow.py), ended through _wait_for."""
        with self._lock:
            self._threads.update(dict.fromkeys(run_ids, thread))

    def _follow(self, handle: RunHandle, release: Callable[..., Any] | None = None) -> None:
        thread = threading.Thread(target=self._wait_for, args=(handle, release), daemon=True,
                                  name=f"dataflow-run-{handle.run_id[:8]}")
        with self._lock:
            self._threads[handle.run_id] = thread
        thread.start()

    def _wait_for(self, handle: RunHandle, release: Callable[..., Any] | None = None) -> None:
        try:
            result = self.engine.wait(handle)
        finally:
            if release is not None:      # the resume lease, given up when the run ends
                release(None, None, None)
        with self._finished:
            self._results[handle.run_id] = result
            while len(self._results) > RESULTS_KEPT:     # the oldest: in the store's history
                del self._results[next(iter(self._results))]
            self._threads.pop(handle.run_id, None)
            self._finished.notify_all()

    def active(self) -> list[str]:
        """Ids of the runs this service started that have not ended."""
        with self._lock:
            return list(self._threads)

    def wait(self, run_id: str, timeout: float | None = None) -> RunResult:
        """The result of a run this service started, once it has ended (the newest
        RESULTS_KEPT results are kept; an older run's is in the store's history)."""
        with self._finished:
            if run_id not in self._results and run_id not in self._threads:
                raise RunNotFound(run_id)
            if not self._finished.wait_for(lambda: run_id in self._results, timeout):
                raise TimeoutError(f"run {run_id} is still going after {timeout}s")
            return self._results[run_id]

    def shutdown(self, timeout: float = SHUTDOWN_WAIT) -> list[str]:
        """Cancel every run still going and wait (bounded) until each is recorded; returns
        the ids that were cancelled."""
        running = self.active()
        for run_id in running:
            try:
                self.engine.cancel(run_id)
            except Exception:        # it ended meanwhile
                pass
        deadline = time.monotonic() + timeout
        with self._finished:
            self._finished.wait_for(lambda: not self._threads,
                                    max(0.0, deadline - time.monotonic()))
        return running
