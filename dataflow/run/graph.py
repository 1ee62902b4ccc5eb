"""Build a run's Dask graph: one task per (hook, plugin), each hook after the previous one.

Every task of hook n takes the outcomes of all tasks of hook n-1 as arguments, so
Dask starts it when they are done and moves their outputs worker to worker. The
whole graph goes to the scheduler in one message (`client.get(..., sync=False)`);
tasks whose plugins ask for different priorities are submitted one by one instead,
since a graph carries one priority.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dask._task_spec import Task, TaskRef

from dataflow.model import PlannedTask, RunEnv, RunPlan, priority_value
from dataflow.run.stream_chains import stream_chains
# The one bridge from the orchestrating side to code that runs on the workers: the task
# function, and the cancel-flag functions sent with `client.run` (and as a worker plugin).
# undo_completed: a completed task of a failed atomic run rolled back (run/atomic.py).
from dataflow.worker.task import (CancelFlag, execute_task, hard_stop, request_cancel,
                                  running_here, undo_completed)

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["submit_graph", "task_key", "execute_task", "hard_stop", "request_cancel",
           "running_here", "CancelFlag", "undo_completed"]


def task_key(env: RunEnv, task: PlannedTask) -> str:
    """Readable in the Dask dashboard: pipeline, hook, plugin, then the run id."""
    return f"{env.pipeline}:{task.hook}:{task.plugin}-{env.run_id}"


def _priority(plan: RunPlan, task: PlannedTask) -> int:
    return priority_value(plan.priority) + (priority_value(task.priority) if task.priority else 0)


def run_graph(env: RunEnv, plan: RunPlan) -> tuple[dict, list[str], list[str]]:
    """A run's tasks as Dask tasks, each hook after the previous one, streamed hooks
    fused (run/stream_chains.py): (graph, its keys, their task ids), in order."""
    graph, keys, task_ids = {}, [], []
    previous: list[str] = []
    chains = stream_chains(plan)
    for stage in plan.stages:
        current = []
        for task in stage:
            key = task_key(env, task)
            chain: dict = ({"stream_chain": chains[task.task_id]}
                           if task.task_id in chains else {})
            graph[key] = Task(key, execute_task, env, task, *[TaskRef(k) for k in previous],
                              **chain)
            keys.append(key)
            task_ids.append(task.task_id)
            current.append(key)
        previous = current or previous
    return graph, keys, task_ids


def _as_one_graph(client: Client, env: RunEnv, plan: RunPlan) -> dict[str, Future]:
    graph, keys, task_ids = run_graph(env, plan)
    priority = _priority(plan, plan.tasks[0]) if plan.tasks else 0
    futures = client.get(graph, keys, sync=False, priority=priority, retries=0)
    return dict(zip(task_ids, futures))


def _one_by_one(client: Client, env: RunEnv, plan: RunPlan) -> dict[str, Future]:
    futures: dict = {}
    previous: list = []
    chains = stream_chains(plan)
    for stage in plan.stages:
        current = []
        for task in stage:
            chain = {"stream_chain": chains[task.task_id]} if task.task_id in chains else {}
            future = client.submit(execute_task, env, task, *previous, key=task_key(env, task),
                                   priority=_priority(plan, task), pure=False, retries=0,
                                   **chain)
            futures[task.task_id] = future
            current.append(future)
        previous = current or previous
    return futures


def submit_graph(client: Client, env: RunEnv, plan: RunPlan) -> dict[str, Future]:
    """Submit every task of `plan`; returns {task_id: future} in hook order."""
    if not plan.tasks:
        return {}
    if len({_priority(plan, task) for task in plan.tasks}) <= 1:
        return _as_one_graph(client, env, plan)
    return _one_by_one(client, env, plan)
