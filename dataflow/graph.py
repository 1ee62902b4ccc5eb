"""Build a run's Dask graph: one task per (hook, plugin), each hook after the previous one.

Every task of hook n takes the futures of all tasks of hook n-1 as arguments, so
Dask starts it when they are done and moves their outputs worker to worker.
"""
from __future__ import annotations

from dataflow.executor import execute_task
from dataflow.jobs import priority_value


def task_key(env, task) -> str:
    """Readable in the Dask dashboard: pipeline, hook, plugin, then the run id."""
    return f"{env.pipeline}:{task.hook}:{task.plugin}-{env.run_id}"


def submit_graph(client, env, plan) -> dict:
    """Submit every task of `plan`; returns {task_id: future} in hook order."""
    futures: dict = {}
    previous: list = []
    base = priority_value(plan.priority)
    for stage in plan.stages:
        current = []
        for task in stage:
            priority = base + (priority_value(task.priority) if task.priority else 0)
            future = client.submit(execute_task, env, task, *previous, key=task_key(env, task),
                                   priority=priority, pure=False, retries=0)
            futures[task.task_id] = future
            current.append(future)
        previous = current or previous
    return futures
