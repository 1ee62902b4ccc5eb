"""Build a run's Dask graph: one task per (hook, plugin), each hook after the previous one.

Every task of hook n takes the outcomes of all tasks of hook n-1 as arguments, so
Dask starts it when they are done and moves their outputs worker to worker. The
whole graph goes to the scheduler in one message (`client.get(..., sync=False)`);
tasks whose plugins ask for different priorities are submitted one by one instead,
since a graph carries one priority.
"""
from __future__ import annotations

from dask._task_spec import Task, TaskRef

from dataflow.worker.task import execute_task
from dataflow.worker.jobs import priority_value


def task_key(env, task) -> str:
    """Readable in the Dask dashboard: pipeline, hook, plugin, then the run id."""
    return f"{env.pipeline}:{task.hook}:{task.plugin}-{env.run_id}"


def _priority(plan, task) -> int:
    return priority_value(plan.priority) + (priority_value(task.priority) if task.priority else 0)


def _as_one_graph(client, env, plan) -> dict:
    graph, keys, task_ids, previous = {}, [], [], []
    for stage in plan.stages:
        current = []
        for task in stage:
            key = task_key(env, task)
            graph[key] = Task(key, execute_task, env, task, *[TaskRef(k) for k in previous])
            keys.append(key)
            task_ids.append(task.task_id)
            current.append(key)
        previous = current or previous
    priority = _priority(plan, plan.tasks[0]) if plan.tasks else 0
    futures = client.get(graph, keys, sync=False, priority=priority, retries=0)
    return dict(zip(task_ids, futures))


def _one_by_one(client, env, plan) -> dict:
    futures: dict = {}
    previous: list = []
    for stage in plan.stages:
        current = []
        for task in stage:
            future = client.submit(execute_task, env, task, *previous, key=task_key(env, task),
                                   priority=_priority(plan, task), pure=False, retries=0)
            futures[task.task_id] = future
            current.append(future)
        previous = current or previous
    return futures


def submit_graph(client, env, plan) -> dict:
    """Submit every task of `plan`; returns {task_id: future} in hook order."""
    if not plan.tasks:
        return {}
    if len({_priority(plan, task) for task in plan.tasks}) <= 1:
        return _as_one_graph(client, env, plan)
    return _one_by_one(client, env, plan)
