"""`dataflow pipelines [list|create|update|delete]`: pipelines from config/pipelines.yaml and
those stored in the database (through the ConfigManager). YAML wins on a shared name."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click
import yaml
from rich.table import Table
from rich.text import Text

from dataflow.cli.common import console, handles_errors, open_project, print_json, project_option
from dataflow.cli.config_cmds import cli_author
from dataflow.errors import InvalidInput
from dataflow.run.plan import plugins_for_hook

if TYPE_CHECKING:
    from dataflow.project import Project

RULE = ("YAML is the default source; a stored pipeline may not use a name "
        "config/pipelines.yaml defines, and if YAML gains that name later the stored one is "
        "ignored (`dataflow validate` reports it).")


SET_HELP = ("Any other key of a pipelines.yaml entry as KEY=VALUE, VALUE in YAML "
            "(repeatable): --set 'hooks={load: {tags: [fast]}}' --set 'depends_on=[ingest]' "
            "--set 'gates=[approval]' --set on_unmet=wait --set 'env={OUT_DIR: /tmp/out}' "
            "--set atomic=true --set 'retention={history_days: 90}' --set timezone=Europe/Paris.")


def _hooks(text: str | None) -> list[str] | None:
    return None if text is None else [hook.strip() for hook in text.split(",") if hook.strip()]


def _set_keys(assignments: tuple[str, ...]) -> dict:
    """--set KEY=VALUE (VALUE read as YAML) → {KEY: value}; validated with the pipeline."""
    keys = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--set {text!r} is not KEY=VALUE; fix: e.g. "
                               "--set 'gates=[approval]'")
        try:
            keys[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise InvalidInput(f"--set {key}: the value is not valid YAML "
                               f"({getattr(error, 'problem', None) or error}); fix: quote it "
                               f"in the shell, e.g. --set '{key}=[a, b]'") from None
    if "config" in keys:
        raise InvalidInput("--set config: a stored pipeline's plugin config is not part of it; "
                           "fix: `dataflow config set PLUGIN --pipeline NAME KEY=VALUE`")
    return keys


def _note_empty_hooks(project: Project, name: str) -> None:
    pipeline = project.pipelines[name]
    for hook in pipeline.hooks:
        if not plugins_for_hook(project, name, hook):
            console.print(f"note: no plugin runs at hook {hook} in pipeline {name} (it is "
                          "skipped until one does)", markup=False, soft_wrap=True)


def _project_dir(ctx, project_dir):
    return project_dir or (ctx.obj or {}).get("project_dir")


@click.group("pipelines", invoke_without_command=True, help=(
    "List pipelines (the default), or create, update and delete pipelines stored in the "
    "database. " + RULE))
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@project_option
@click.pass_context
def pipelines_group(ctx, as_json, project_dir) -> None:
    ctx.obj = {"project_dir": project_dir, "as_json": as_json}
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command, as_json=as_json, project_dir=project_dir)


def _table(pipelines: list[dict]) -> Table:
    table = Table(show_edge=False)
    for column in ("pipeline", "source", "hooks", "schedule", "priority", "description"):
        table.add_column(column, overflow="fold")
    for entry in pipelines:
        source = entry["source"] + (" (ignored)" if entry.get("ignored") else "")
        hooks = entry.get("hooks")
        table.add_row(Text(entry["name"]), source,
                      Text(", ".join(map(str, hooks)) if isinstance(hooks, list) else str(hooks)),
                      Text(entry.get("schedule") or ""), str(entry.get("priority") or ""),
                      Text(entry.get("description") or ""))
    return table


@pipelines_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@project_option
@click.pass_context
@handles_errors
def list_command(ctx, as_json, project_dir) -> None:
    """List every pipeline with its source (yaml | db); stored ones that are ignored are
    listed last with the reason."""
    pipelines = open_project(_project_dir(ctx, project_dir)).config.list_pipelines()
    if as_json or (ctx.obj or {}).get("as_json"):
        print_json(pipelines)
        return
    console.print(_table(pipelines))
    for entry in pipelines:
        if entry.get("ignored"):
            console.print(Text.assemble(("✗ ", "red"), f"stored pipeline {entry['name']} is "
                                        f"ignored: {entry['ignored']}"), soft_wrap=True)


@pipelines_group.command("create")
@click.argument("name")
@click.option("--hooks", default=None, help="The hooks in order, comma-separated: a,b,c "
              "(or a hook map with --set 'hooks={...}').")
@click.option("--schedule", default=None, help="A cron expression, e.g. '*/10 * * * *'.")
@click.option("--priority", default="normal", show_default=True,
              help="low, normal, high or critical.")
@click.option("--description", default="", help="What the pipeline does.")
@click.option("--disabled", is_flag=True, help="Store it disabled (not fired on its schedule).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@project_option
@click.pass_context
@handles_errors
def create_command(ctx, name, hooks, schedule, priority, description, disabled, assignments,
                   project_dir) -> None:
    """Store a new pipeline NAME in the database, validated like a pipelines.yaml entry
    (every key of one but `config:`: tags in hook maps, env, depends_on/provides/requires,
    on_unmet, gates, atomic, retention, the schedule policy, alerts — through --set).

    Refused when config/pipelines.yaml defines NAME (YAML wins). Run it like any
    other: `dataflow run NAME`.
    """
    keys = {"schedule": schedule, "priority": priority, "description": description,
            "enabled": not disabled, **_set_keys(assignments)}
    hook_list = keys.pop("hooks", None) or _hooks(hooks)
    if hook_list is None:
        raise InvalidInput("give the hooks: --hooks a,b,c, or a hook map with "
                           "--set 'hooks={a: [plugin], b: {tags: [tag]}}'")
    project = open_project(_project_dir(ctx, project_dir))
    created = project.config.create_pipeline(name, hook_list, author=cli_author(), **keys)
    console.print(f"stored pipeline {name}: hooks {', '.join(created['hooks'])}"
                  + (f", schedule {created['schedule']}" if created["schedule"] else ""),
                  markup=False, soft_wrap=True)
    _note_empty_hooks(project, name)


@pipelines_group.command("update")
@click.argument("name")
@click.option("--hooks", default=None, help="The hooks in order, comma-separated: a,b,c.")
@click.option("--schedule", default=None, help="A cron expression; '' removes the schedule.")
@click.option("--priority", default=None, help="low, normal, high or critical.")
@click.option("--description", default=None, help="What the pipeline does.")
@click.option("--enable/--disable", "enabled", default=None, help="Enable or disable it.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@project_option
@click.pass_context
@handles_errors
def update_command(ctx, name, hooks, schedule, priority, description, enabled, assignments,
                   project_dir) -> None:
    """Change fields of the stored pipeline NAME (the others are kept)."""
    changes = {"hooks": _hooks(hooks), "schedule": schedule, "priority": priority,
               "description": description, "enabled": enabled}
    changes = {key: value for key, value in changes.items() if value is not None}
    changes.update(_set_keys(assignments))
    if isinstance(changes.get("schedule"), str) and not changes["schedule"].strip():
        changes["schedule"] = None
    if not changes:
        raise InvalidInput("nothing to change: give --hooks, --schedule, --priority, "
                            "--description, --enable/--disable or --set KEY=VALUE")
    project = open_project(_project_dir(ctx, project_dir))
    updated = project.config.update_pipeline(name, author=cli_author(), **changes)
    console.print(f"updated stored pipeline {name}: hooks {', '.join(updated['hooks'])}, "
                  f"schedule {updated['schedule'] or 'none'}, priority {updated['priority']}",
                  markup=False, soft_wrap=True)
    _note_empty_hooks(project, name)


@pipelines_group.command("delete")
@click.argument("name")
@project_option
@click.pass_context
@handles_errors
def delete_command(ctx, name, project_dir) -> None:
    """Delete the stored pipeline NAME (pipelines of config/pipelines.yaml are changed in
    that file). Its stored plugin config and config history are kept."""
    project = open_project(_project_dir(ctx, project_dir))
    project.config.delete_pipeline(name)
    console.print(f"deleted stored pipeline {name}", markup=False)
    if name in project.yaml_pipelines.pipelines:
        console.print(f"pipeline {name} of config/pipelines.yaml stays (it was the one used)",
                      markup=False)
