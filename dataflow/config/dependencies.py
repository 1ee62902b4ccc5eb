"""Pipeline dependencies (spec 003) as a graph, pure: no store, no run.

A pipeline's upstream are the pipelines it `depends_on:` and those that `provides:` an
asset it `requires:`. Edges point from a pipeline to its upstream.

    upstream(pipelines, name)         its direct upstream, in the order written
    dependency_graph(pipelines)       {pipeline: its direct upstream}
    find_cycle(graph)                 [a, b, ..., a], or None
    upstream_chain(pipelines, name)   everything it needs, transitively, in run order
    runners(graph, names)             what needs each of them, transitively
    layers(graph)                     {pipeline: depth}: 0 for sources (for drawing)
    dependency_problems(...)          unknown pipelines and assets (did you mean), cycles
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from dataflow.errors import Problem, did_you_mean

if TYPE_CHECKING:
    from dataflow.config.pipelines import Pipeline
    from dataflow.config.yaml_file import YamlDocument

Graph = Mapping[str, list[str]]


def providers(pipelines: Mapping[str, Pipeline]) -> dict[str, list[str]]:
    """{asset: the pipelines that provide it}."""
    found: dict[str, list[str]] = {}
    for name, pipeline in pipelines.items():
        for asset in pipeline.provides:
            found.setdefault(asset, []).append(name)
    return found


def upstream(pipelines: Mapping[str, Pipeline], name: str,
             provided: Mapping[str, list[str]] | None = None) -> list[str]:
    """The known pipelines `name` needs directly (itself never)."""
    pipeline = pipelines[name]
    provided = providers(pipelines) if provided is None else provided
    names = [dep for dep in pipeline.depends_on if dep in pipelines]
    names += [source for asset in pipeline.requires for source in provided.get(asset, ())]
    return [n for n in dict.fromkeys(names) if n != name]


def dependency_graph(pipelines: Mapping[str, Pipeline]) -> dict[str, list[str]]:
    provided = providers(pipelines)
    return {name: upstream(pipelines, name, provided) for name in pipelines}


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a] (a needs b ... needs a), or None."""
    done: set[str] = set()
    for start in graph:
        path: list[str] = []
        stack = [(start, iter(graph.get(start, ())))]
        on_path = {start}
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                done.add(path.pop())
                on_path.discard(node)
            elif child in on_path:
                return path[path.index(child):] + [child]
            elif child not in done:
                stack.append((child, iter(graph.get(child, ()))))
                on_path.add(child)
                path.append(child)
    return None


def upstream_chain(pipelines: Mapping[str, Pipeline], name: str) -> list[str]:
    """Every pipeline `name` needs, transitively, each after what it needs (not `name`)."""
    graph = dependency_graph(pipelines)
    order: list[str] = []
    seen = {name}

    def visit(node: str) -> None:
        for up in graph.get(node, ()):
            if up not in seen:
                seen.add(up)
                visit(up)
                order.append(up)
    visit(name)
    return order


def runners(graph: Graph, names: list[str]) -> dict[str, list[str]]:
    """{name: every pipeline that needs it, transitively}: those whose --with-upstream
    runs may have run it."""
    found: dict[str, list[str]] = {}
    for name in names:
        seen, todo = set(), [name]
        while todo:
            node = todo.pop()
            for down in (d for d, ups in graph.items() if node in ups and d not in seen):
                seen.add(down)
                todo.append(down)
        found[name] = sorted(seen - {name})
    return found


def layers(graph: Graph) -> dict[str, int]:
    """{pipeline: 0 when it needs nothing, else 1 + the deepest of its upstream}."""
    depth: dict[str, int] = {}

    def measure(node: str, path: frozenset[str]) -> int:
        if node not in depth:
            ups = [up for up in graph.get(node, ()) if up not in path]    # cycles: cut
            depth[node] = 1 + max((measure(up, path | {node}) for up in ups), default=-1)
        return depth[node]
    for node in graph:
        measure(node, frozenset())
    return depth


def _link_problems(pipelines: Mapping[str, Pipeline], name: str,
                   document: YamlDocument) -> list[Problem]:
    """Unknown pipelines in depends_on, assets nobody else provides, on_upstream alone."""
    pipeline, problems = pipelines[name], []
    known, provided = sorted(pipelines), providers(pipelines)
    for index, dep in enumerate(pipeline.depends_on):
        if dep == name or dep not in pipelines:
            problems.append(document.problem(
                ("pipelines", name, "depends_on", index),
                f"pipeline {name!r} depends on itself" if dep == name else
                f"pipeline {name!r} depends on unknown pipeline {dep!r}{did_you_mean(dep, known)}",
                f"name a defined pipeline (known: {', '.join(known)}) or remove it"))
    for index, asset in enumerate(pipeline.requires):
        if not [source for source in provided.get(asset, ()) if source != name]:
            others = sorted(provided)
            problems.append(document.problem(
                ("pipelines", name, "requires", index),
                f"pipeline {name!r} requires asset {asset!r}, which no other pipeline "
                f"provides{did_you_mean(asset, others)}",
                f"add {asset!r} to the `provides:` of the pipeline that makes it, or correct "
                f"the name (provided: {', '.join(others) or 'none'})"))
    if pipeline.on_upstream and not upstream(pipelines, name, provided):
        problems.append(document.problem(
            ("pipelines", name, "schedule"), f"pipeline {name!r} is scheduled on_upstream "
            "but has no upstream", "give it `depends_on:` or `requires:`, or a cron schedule"))
    return problems


def dependency_problems(pipelines: Mapping[str, Pipeline], document: YamlDocument,
                        only: str | None = None) -> list[Problem]:
    """Unknown pipelines and assets, and a cycle, located in pipelines.yaml. With `only`,
    just those of that pipeline and of what it needs."""
    concerned = set(pipelines) if only is None or only not in pipelines else \
        {only, *upstream_chain(pipelines, only)}
    problems = [p for name in pipelines if name in concerned
                for p in _link_problems(pipelines, name, document)]
    graph = dependency_graph(pipelines)
    cycle = find_cycle({name: ups for name, ups in graph.items() if name in concerned})
    if cycle:
        first = pipelines[cycle[0]]
        key = "depends_on" if cycle[1] in first.depends_on else "requires"
        problems.append(document.problem(
            ("pipelines", cycle[0], key), "pipelines depend on each other in a cycle: "
            + " → ".join(cycle), "remove one of these dependencies (a pipeline cannot "
            "need its own output)"))
    return problems
