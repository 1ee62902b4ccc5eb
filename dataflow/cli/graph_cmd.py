"""`dataflow graph`: the pipelines' dependency graph (depends_on, provides/requires), as
text, JSON, a self-contained HTML page or a PNG."""
from __future__ import annotations

from pathlib import Path

import click

from dataflow.cli.common import console, handles_errors, open_project, print_json, project_option
from dataflow.cli.graph_render import as_dot, as_html, as_text, edges, write_png
from dataflow.config.dependencies import dependency_problems, upstream_chain
from dataflow.errors import ConfigError, InvalidInput, PipelineNotFound, Problem

FORMATS = (".html", ".htm", ".png", ".dot")


def _write(pipelines: dict, output: str) -> str:
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        message = f"--output {output}: unknown format {suffix or '(none)'!r}"
        raise InvalidInput(message, [Problem("", "--output", message,
                                             "name a .html, .png or .dot file")])
    if suffix == ".png":
        return "PNG drawn with " + write_png(pipelines, path)
    path.write_text(as_html(pipelines) if suffix in (".html", ".htm") else
                    as_dot(pipelines), encoding="utf-8")
    return "self-contained HTML (no network)" if suffix != ".dot" else "Graphviz DOT"


@click.command("graph")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Also write the graph to this file: .html (an inline SVG, opens offline), "
                   ".png (drawn with Graphviz `dot` when installed, else matplotlib) or .dot.")
@click.option("--pipeline", help="Only this pipeline and what it needs, transitively.")
@click.option("--json", "as_json", is_flag=True, help="Print nodes and edges as JSON.")
@project_option
@handles_errors
def graph_command(output, pipeline, as_json, project_dir) -> None:
    """Print the pipelines' dependency graph: each pipeline under what it needs.

    Edges come from `depends_on:` and from assets one pipeline `provides:` and another
    `requires:` (config/pipelines.yaml). A cycle or an unknown pipeline or asset is
    an error, as in `dataflow validate`.
    """
    project = open_project(project_dir)
    pipelines = project.yaml_pipelines.pipelines
    problems = dependency_problems(pipelines, project._pipelines_read[1], pipeline)
    if problems:
        raise ConfigError(problems)
    if pipeline:
        if pipeline not in pipelines:
            raise PipelineNotFound(pipeline, list(pipelines))
        pipelines = {name: pipelines[name] for name in [*upstream_chain(pipelines, pipeline),
                                                         pipeline]}
    if as_json:
        print_json({"pipelines": sorted(pipelines), "edges": [
            {"upstream": up, "downstream": down, "why": why}
            for up, down, why in edges(pipelines)]})
    else:
        for line in as_text(pipelines):
            console.print(line, markup=False, soft_wrap=True)
    if output:
        console.print(f"wrote {output} ({_write(pipelines, output)})", markup=False)
