"""Which streamed tasks each task drives (docs/plugins.md, "Streaming data bigger than memory").

A chain starts at a hook with one task and runs on through the following hooks while
each has exactly one task, a plugin with `STREAM = True`. The first task's stream (its
output) is driven through all of them chunk by chunk by the first task (worker/streaming.py, stream_drive.py),
so chunk k of one hook is processed while chunk k+1 of the hook before it is produced.
"""
from __future__ import annotations

from dataflow.model import PlannedTask, RunPlan
from dataflow.plugins.loader import import_plugin


def _streamed(task: PlannedTask) -> bool:
    try:
        return bool(getattr(import_plugin(task.ref), "STREAM", False))
    except Exception:       # a plugin that does not import fails in its own task, visibly
        return False


def stream_chains(plan: RunPlan) -> dict[str, tuple[PlannedTask, ...]]:
    """{task_id: the streamed tasks it drives} for every task that drives some."""
    stages = [stage for stage in plan.stages if stage]
    chains: dict[str, tuple[PlannedTask, ...]] = {}
    index = 0
    while index < len(stages):
        chain: list[PlannedTask] = []
        following = index + 1
        while (len(stages[index]) == 1 and following < len(stages)
               and len(stages[following]) == 1 and _streamed(stages[following][0])):
            chain.append(stages[following][0])
            following += 1
        if chain:
            chains[stages[index][0].task_id] = tuple(chain)
        index = following if chain else index + 1
    return chains
