"""Many runs started at once — a burst of scheduled fires — for the cost of few.

`RunService.trigger` reads the stored pipelines and configs, plans, records, submits and
starts a follower thread for ONE run. `trigger_many(service, requests)` does the same for
each request, with the same records, events, listeners, preconditions and cancel, but:

    - the stored pipelines and the stored plugin configs are read once for the burst,
      and each pipeline is planned once (a plan is kept while its definition, its stored
      configs, the YAML files and the plugins' source are unchanged: `PlanCache`);
    - the run documents go to the Recorder, which writes them in one bulk write;
    - the graphs go to Dask in one `client.get` per priority (run/graph.py's layout);
    - one thread follows every run of the burst (run/batch_follow.py).

    outcomes = service.trigger_many([TriggerRequest("prices", "schedule", fields), ...])
    # one per request, in order: its run id, or the exception a trigger would have raised
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dataflow.config.migrate import migrated_configs
from dataflow.run.batch_follow import follow_all
from dataflow.run.batch_submit import Submitted, submit_all
from dataflow.run.plan import build_plan
from dataflow.run.preconditions import check_preconditions, gate_plugins, record_gated
from dataflow.store.configs import stored_records

if TYPE_CHECKING:
    from dataflow.config.pipelines import Pipeline
    from dataflow.model import RunPlan
    from dataflow.project import Project
    from dataflow.run.result import RunHandle
    from dataflow.run.service import RunService

log = logging.getLogger("dataflow.engine")


@dataclass(frozen=True)
class TriggerRequest:
    """One run to start, as `RunService.trigger(pipeline, trigger=..., run_fields=...)`
    would (one-off overrides, plugin selection and --with-upstream go through trigger)."""

    pipeline: str
    trigger: str = "api"
    run_fields: dict[str, Any] = field(default_factory=dict)
    use_cache: bool = True
    force: bool = False


def _may_be_refused(pipeline: Pipeline) -> bool:
    """Whether check_preconditions has anything to check: gates or an upstream."""
    return any(getattr(pipeline, key, None) for key in
               ("gates", "depends_on", "requires", "on_upstream"))


def _stored_by_pipeline(project: Project) -> tuple[dict[str, dict], dict[str, tuple]]:
    """({pipeline: {plugin: stored config}}, {pipeline: its records' versions}) in one
    query; configs saved under an older plugin version are migrated as one by one."""
    grouped: dict[str, list[dict]] = {}
    for record in stored_records(project.db):
        grouped.setdefault(record["pipeline"], []).append(record)
    configs = {name: migrated_configs(project.config, records)
               for name, records in grouped.items()}
    versions = {name: tuple(sorted((r["plugin"], r.get("version") or 0) for r in records))
                for name, records in grouped.items()}
    return configs, versions


class PlanCache:
    """Plans by pipeline, kept while what they were built from is unchanged: the
    pipeline's definition, its stored config versions, the YAML files read, the plugins
    (id and source hash) and their problems."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[tuple, RunPlan]] = {}

    @staticmethod
    def project_key(project: Project) -> tuple:
        registry = project.registry
        return (id(project._settings_read), id(project._pipelines_read),
                tuple((pid, info.ref.source_hash) for pid, info in registry.plugins.items()),
                tuple(str(problem) for problem in registry.problems))

    def plan(self, project: Project, name: str, pipelines: dict, stored: dict,
             key: tuple) -> RunPlan:
        """The pipeline's plan: kept, or built (and validated) from the burst's reads."""
        key = (key, repr(pipelines.get(name)))
        kept = self._plans.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        plan = build_plan(project, name, pipelines, stored)
        self._plans[name] = (key, plan)
        return plan


def _start(service: RunService, request: TriggerRequest, pipelines: dict,
           planned: Callable[[], RunPlan]) -> RunHandle:
    """What trigger() does for one run, in its order, but the submit and the follower."""
    project = service.project
    if request.pipeline not in pipelines or _may_be_refused(pipelines[request.pipeline]):
        check_preconditions(project, request.pipeline, request.force, pipelines=pipelines)
    plan, gated = gate_plugins(project, planned())
    fields = dict(request.run_fields, **({"forced": True} if request.force else {}),
                  **({"gated": gated} if gated else {}))
    handle = service.engine.start(request.pipeline, request.trigger, plan=plan,
                                  use_cache=request.use_cache, run_fields=fields, submit=False)
    record_gated(project.recorder, handle.run_id, request.pipeline, gated)
    return handle


@dataclass(frozen=True)
class BurstReads:
    """What a burst is planned from, read once: the pipelines, the stored configs and
    their versions, and PlanCache's key of the project. Read ahead (`plan_ahead`), they
    spare the burst its own reads."""

    pipelines: dict
    stored: dict[str, dict]
    versions: dict[str, tuple]
    project_key: tuple


def read_burst(project: Project, cache: PlanCache) -> BurstReads:
    pipelines = project.pipelines                 # one read of the stored pipelines
    stored, versions = _stored_by_pipeline(project)   # one read of the stored configs
    return BurstReads(pipelines, stored, versions, cache.project_key(project))


def trigger_many(service: RunService, requests: list[TriggerRequest],
                 cache: PlanCache | None = None, reads: BurstReads | None = None,
                 on_submitted: Submitted | None = None) -> list[str | Exception]:
    """Start a run for each request (see the module doc); per request its run id, or
    the error that refused it (nothing recorded for it then). `reads`: those made ahead
    (else read now); `on_submitted(run_ids)` as runs are handed to Dask."""
    project, cache = service.project, cache or PlanCache()
    try:
        reads = reads or read_burst(project, cache)
    except Exception as error:      # noqa: BLE001 -- every request is refused alike
        return [error for _ in requests]
    outcomes: list[str | Exception] = []
    handles: list[RunHandle] = []
    for request in requests:
        name = request.pipeline
        try:
            handle = _start(service, request, reads.pipelines, partial(
                cache.plan, project, name, reads.pipelines, reads.stored.get(name, {}),
                (reads.project_key, reads.versions.get(name))))
        except Exception as error:  # noqa: BLE001 -- the caller records why per request
            outcomes.append(error)
            continue
        handles.append(handle)
        outcomes.append(handle.run_id)
    failed = submit_all(service.engine.client, handles, on_submitted)
    for run_id, refused in failed.items():
        service.engine.active_runs.pop(run_id, None)
        outcomes[outcomes.index(run_id)] = refused
    follow_all(service, [handle for handle in handles if handle.run_id not in failed])
    return outcomes


def plan_ahead(service: RunService, names: list[str], cache: PlanCache) -> BurstReads | None:
    """Plan `names` before their runs are due (the scheduler, ahead of a fire time), so
    the burst itself only checks the plans; the reads made, for the burst to use (None
    when they failed: the burst reads again and says why). A pipeline that cannot be
    planned is left to the burst, which records why."""
    project = service.project
    try:
        reads = read_burst(project, cache)
    except Exception as error:      # noqa: BLE001 -- the burst reads again and says why
        log.info("could not plan ahead: %s", error)
        return None
    for name in names:
        try:
            cache.plan(project, name, reads.pipelines, reads.stored.get(name, {}),
                       (reads.project_key, reads.versions.get(name)))
        except Exception:           # noqa: BLE001,S112 -- refused at the burst, with its reason
            continue
    return reads
