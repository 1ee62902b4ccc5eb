"""The dependency graph drawn for `dataflow graph`: text, a self-contained HTML page (an
inline SVG laid out by topological layer; nothing fetched), a Graphviz DOT text and a
PNG (Graphviz `dot` when installed, else matplotlib)."""
from __future__ import annotations

import html
import importlib
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dataflow.config.dependencies import dependency_graph, layers, providers
from dataflow.errors import DataflowError

if TYPE_CHECKING:
    from dataflow.config.pipelines import Pipeline

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 190, 46, 90, 28, 20


def edges(pipelines: Mapping[str, Pipeline]) -> list[tuple[str, str, str]]:
    """(upstream, downstream, label) for every dependency: "depends_on" or the assets."""
    provided, found = providers(pipelines), {}    # type: dict, dict[tuple[str, str], list[str]]
    for name, pipeline in pipelines.items():
        for dep in pipeline.depends_on:
            if dep in pipelines and dep != name:
                found.setdefault((dep, name), []).append("depends_on")
        for asset in pipeline.requires:
            for source in provided.get(asset, ()):
                if source != name:
                    found.setdefault((source, name), []).append(asset)
    return [(up, down, ", ".join(labels)) for (up, down), labels in sorted(found.items())]


def positions(pipelines: Mapping[str, Pipeline]) -> dict[str, tuple[int, int]]:
    """{pipeline: (layer, row)}: sources in layer 0, each after everything it needs."""
    depth = layers(dependency_graph(pipelines))
    rows: dict[int, int] = {}
    placed: dict[str, tuple[int, int]] = {}
    for name in sorted(pipelines, key=lambda n: (depth[n], n)):
        placed[name] = (depth[name], rows.get(depth[name], 0))
        rows[depth[name]] = rows.get(depth[name], 0) + 1
    return placed


def _notes(pipeline: Pipeline) -> str:
    parts = [f"provides {', '.join(pipeline.provides)}" if pipeline.provides else "",
             f"gates {', '.join(pipeline.gates)}" if pipeline.gates else "",
             "on_upstream" if pipeline.on_upstream else (pipeline.schedule or "")]
    return "; ".join(part for part in parts if part)


def as_text(pipelines: Mapping[str, Pipeline]) -> list[str]:
    """One line a pipeline, indented by layer: its upstream (and why) and its notes."""
    incoming: dict[str, list[str]] = {}
    for up, down, label in edges(pipelines):
        incoming.setdefault(down, []).append(up if label == "depends_on" else f"{up} ({label})")
    lines = []
    for name, (layer, _) in sorted(positions(pipelines).items(), key=lambda i: (i[1], i[0])):
        needs = f" <- {', '.join(incoming[name])}" if name in incoming else ""
        notes = _notes(pipelines[name])
        lines.append("  " * layer + name + needs + (f"   [{notes}]" if notes else ""))
    return lines


def _xy(place: tuple[int, int]) -> tuple[int, int]:
    return PAD + place[0] * (BOX_W + GAP_X), PAD + place[1] * (BOX_H + GAP_Y)


def as_svg(pipelines: Mapping[str, Pipeline]) -> str:
    placed = positions(pipelines)
    width = PAD * 2 + (max((p[0] for p in placed.values()), default=0) + 1) * (BOX_W + GAP_X)
    height = PAD * 2 + (max((p[1] for p in placed.values()), default=0) + 1) * (BOX_H + GAP_Y)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12"><defs><marker id="arrow" '
             'viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
             'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for up, down, label in edges(pipelines):
        (x1, y1), (x2, y2) = _xy(placed[up]), _xy(placed[down])
        x1, y1, y2 = x1 + BOX_W, y1 + BOX_H // 2, y2 + BOX_H // 2
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" '
                     f'marker-end="url(#arrow)"><title>{html.escape(label)}</title></line>')
    for name, place in placed.items():
        x, y = _xy(place)
        parts.append(f'<g><title>{html.escape(_notes(pipelines[name]))}</title>'
                     f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                     f'fill="#eef3fb" stroke="#3b6db3"/><text x="{x + 10}" y="{y + 19}" '
                     f'font-weight="bold">{html.escape(name)}</text><text x="{x + 10}" '
                     f'y="{y + 36}" fill="#555">{html.escape(_notes(pipelines[name])[:30])}'
                     '</text></g>')
    return "\n".join(parts + ["</svg>"])


def as_html(pipelines: Mapping[str, Pipeline]) -> str:
    rows = "".join(f"<tr><td>{html.escape(up)}</td><td>{html.escape(down)}</td>"
                   f"<td>{html.escape(label)}</td></tr>" for up, down, label in edges(pipelines))
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>dataflow pipeline "
            "dependencies</title><style>body{font-family:sans-serif;margin:20px}td,th{padding:"
            "2px 10px;text-align:left}</style></head><body><h1>Pipeline dependencies</h1>"
            f"{as_svg(pipelines)}<h2>Edges</h2><table><tr><th>upstream</th><th>downstream"
            f"</th><th>why</th></tr>{rows}</table></body></html>\n")


def as_dot(pipelines: Mapping[str, Pipeline]) -> str:
    lines = ["digraph dataflow {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    lines += [f'  "{name}";' for name in sorted(pipelines)]
    lines += [f'  "{up}" -> "{down}" [label="{label}"];' for up, down, label in edges(pipelines)]
    return "\n".join(lines + ["}"]) + "\n"


def write_png(pipelines: Mapping[str, Pipeline], path: Path) -> str:
    """Write the PNG; says which renderer drew it ("graphviz" or "matplotlib")."""
    dot = shutil.which("dot")
    if dot:
        subprocess.run([dot, "-Tpng", "-o", str(path)], input=as_dot(pipelines), text=True,
                       check=True, capture_output=True, timeout=60)
        return "graphviz"
    try:        # imported only here: most commands never draw
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise DataflowError("writing a PNG needs Graphviz (`apt-get install graphviz`) or "
                            "matplotlib (`pip install matplotlib`); or write --output "
                            "deps.html") from None
    _draw_matplotlib(matplotlib, pipelines, path)
    return "matplotlib"


def _draw_matplotlib(matplotlib, pipelines: Mapping[str, Pipeline], path: Path) -> None:
    matplotlib.use("Agg")
    pyplot = importlib.import_module("matplotlib.pyplot")
    placed = positions(pipelines)
    figure, axes = pyplot.subplots(figsize=(2 + 3 * (1 + max(
        (p[0] for p in placed.values()), default=0)), 1 + len(placed) * 0.6))
    for up, down, _ in edges(pipelines):
        (x1, y1), (x2, y2) = placed[up], placed[down]
        axes.annotate("", xy=(x2, -y2), xytext=(x1, -y1),
                      arrowprops={"arrowstyle": "->", "color": "#555"})
    for name, (x, y) in placed.items():
        axes.text(x, -y, name, ha="center", va="center",
                  bbox={"boxstyle": "round", "facecolor": "#eef3fb", "edgecolor": "#3b6db3"})
    axes.set_xlim(-0.6, max((p[0] for p in placed.values()), default=0) + 0.6)
    axes.set_ylim(-max((p[1] for p in placed.values()), default=0) - 0.6, 0.6)
    axes.set_axis_off()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    pyplot.close(figure)
