"""The graphs of a burst of runs (run/batch_trigger.py) handed to Dask together: one
`client.get` per priority, each run's tasks laid out as run/graph.py lays them (each
hook after the previous one). `on_submitted(run_ids)` is called as each call returns —
the moment those runs are submitted, which the scheduler stamps on their fire records.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from dask._expr import LLGExpr

from dataflow.model import priority_value
from dataflow.run.graph import run_graph, submit_graph, task_key

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.model import RunPlan
    from dataflow.run.result import RunHandle

log = logging.getLogger("dataflow.engine")
Submitted = Callable[[list[str]], None]


def _one_priority(plan: RunPlan) -> int | None:
    """The priority of every task of the plan, or None when they differ."""
    values = {priority_value(plan.priority) + (priority_value(t.priority) if t.priority else 0)
              for t in plan.tasks}
    return values.pop() if len(values) == 1 else None


def _add_graph(graph: dict, keys: list[str], handle: RunHandle) -> None:
    """The run's tasks, laid out as any run's (run/graph.py)."""
    tasks, task_keys, _ = run_graph(handle.env, handle.plan)
    graph.update(tasks)
    keys += task_keys


def _submit_group(client: Client, priority: int, group: list[RunHandle]) -> None:
    """One client call for the runs of one priority; each handle gets its futures."""
    graph: dict = {}
    keys: list[str] = []
    for handle in group:
        _add_graph(graph, keys, handle)
    graph_expr = LLGExpr(graph, _determ_token=uuid.uuid4().hex)   # keys are unique: no hashing
    futures = dict(zip(keys, client.get(graph_expr, keys, sync=False, priority=priority,
                                        retries=0)))
    for handle in group:
        handle.futures = {task.task_id: futures[task_key(handle.env, task)]
                          for task in handle.plan.tasks}


def submit_all(client: Client, handles: list[RunHandle],
               on_submitted: Submitted | None = None) -> dict[str, Exception]:
    """Submit every run's graph: one client call per priority (a run whose tasks differ
    in priority on its own); {run id: error} of those whose submission failed."""
    groups: dict[int, list[RunHandle]] = {}
    failed: dict[str, Exception] = {}
    told = on_submitted or (lambda run_ids: None)
    for handle in handles:
        priority = _one_priority(handle.plan)
        if priority is not None:
            groups.setdefault(priority, []).append(handle)
        elif handle.plan.tasks:
            try:
                handle.futures = submit_graph(client, handle.env, handle.plan)
            except Exception as error:  # noqa: BLE001 -- reported per run
                failed[handle.run_id] = error
                continue
            told([handle.run_id])
    for priority, group in groups.items():
        try:
            _submit_group(client, priority, group)
        except Exception as error:      # noqa: BLE001 -- reported per run
            log.warning("could not submit %d runs: %s", len(group), error)
            failed.update({handle.run_id: error for handle in group})
            continue
        told([handle.run_id for handle in group])
    return failed
