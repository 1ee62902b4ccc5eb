"""The plugin routes of spec 000: list, config (read, update: versioned, the next run uses
it), config form, status, trigger (the plugin alone in a pipeline) and cancel."""
from __future__ import annotations

from dataflow.errors import NotRunning, PluginNotFound
from dataflow.statuses import FINAL_TASK_STATUSES, RunStatus
from dataflow.store.run_pages import recent_plugin_tasks, unfinished_plugin_runs
from dataflow.web.api.route import Call, Param, Route

PLUGIN = "/api/plugins/{plugin_id}"
PIPELINE = Param("pipeline", description="the pipeline the config is for", required=True)
LISTED_EXTRAS = ("metadata", "metadata_error")
OVERRIDES_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "overrides": {"type": "object", "description": "config fields for this run only"},
    "use_cache": {"type": "boolean"}}}


def running_in(call: Call, plugin_id: str) -> list[str]:
    """Runs in which the plugin's task has not ended: recorded so in the store, or run by
    this server (whose start the history writer may not have stored yet)."""
    local = {run_id for run_id, handle in list(call.web.service.engine.active_runs.items())
             if any(task["plugin"] == plugin_id and task["status"] not in FINAL_TASK_STATUSES
                    for task in list(handle.state.tasks.values()))}
    return sorted(local | set(unfinished_plugin_runs(call.web.project.db, plugin_id)))


def _listed(registry, info) -> dict:
    """Summary, CONFIG_SCHEMA and (when the registry can describe) get_metadata()."""
    describe = getattr(registry, "describe", None)
    described = describe(info.id) if callable(describe) else {}
    state = load_state(registry, info.id) if hasattr(registry, "serving_last_good") else {}
    return {**info.summary(), "config_schema": info.config_schema, **state,
            **{key: described[key] for key in LISTED_EXTRAS if key in described}}


def list_plugins(call: Call) -> dict:
    registry = call.web.project.registry
    chosen = registry.select(tag=call.query.get("tag"))
    return {"plugins": [_listed(registry, info) for info in chosen],
            "problems": [problem.as_dict() for problem in registry.problems]}


def get_config(call: Call) -> dict:
    config = call.web.project.config
    return config.describe_config(call.path["plugin_id"], call.query["pipeline"])


def set_config(call: Call) -> dict:
    plugin, pipeline = call.path["plugin_id"], call.query["pipeline"]
    config = call.web.project.config
    stored = config.update_plugin_config(plugin, pipeline, call.body, author="api",
                                         merge=call.query["merge"])
    return {**config.describe_config(plugin, pipeline), "saved_version": stored["version"]}


def config_ui(call: Call) -> dict:
    plugin_id, registry = call.path["plugin_id"], call.web.project.registry
    describe = getattr(registry, "describe", None)
    if callable(describe):
        described = describe(plugin_id)
    else:
        info = registry.get(plugin_id)
        described = {"config_schema": info.config_schema,
                     "config_ui": {"kind": "schema", "schema": info.config_schema}}
    shown = {key: described[key] for key in ("config_schema", "config_ui", "config_ui_error")
             if key in described}
    return {"plugin": plugin_id, **shown}


def load_state(registry, plugin_id: str) -> dict:
    """The version a plugin serves; when its new code fails to load, the errors and
    `serving_last_good` (the source hash still in use)."""
    info, errors = registry.get(plugin_id), registry.serving_last_good(plugin_id)
    return {"source_hash": info.ref.source_hash,
            "serving_last_good": info.ref.source_hash if errors else None,
            "load_errors": [problem.as_dict() for problem in errors]}


def status(call: Call) -> dict:
    project, plugin_id = call.web.project, call.path["plugin_id"]
    info = project.registry.get(plugin_id)
    recent = recent_plugin_tasks(project.db, plugin_id)
    return {"plugin": plugin_id, "version": info.version, "hooks": list(info.hooks),
            "pipelines": list(info.pipelines), "running_in": running_in(call, plugin_id),
            "last_status": recent[0].get("status") if recent else None, "recent": recent,
            **load_state(project.registry, plugin_id)}


def reload(call: Call) -> dict:
    """Re-read the plugins now (as the file watcher does on a save)."""
    project, plugin_id = call.web.project, call.path.get("plugin_id")
    changed = project.reload()
    registry = project.registry
    reply = {"changed": changed, "plugins": sorted(registry.plugins),
             "problems": [problem.as_dict() for problem in registry.problems]}
    if plugin_id is None:
        return reply
    if plugin_id not in registry.plugins:
        failed = [p.message for shown, declared in registry.broken.items()
                  if declared.get("PLUGIN_NAME") == plugin_id
                  for p in registry.problems if p.file == shown]
        if failed:
            raise PluginNotFound(plugin_id, f"loaded: {failed[0]}")
    return {"plugin": plugin_id, **reply, **load_state(registry, plugin_id)}


def trigger(call: Call) -> dict:
    plugin_id, pipeline, body = call.path["plugin_id"], call.query["pipeline"], call.body or {}
    call.web.project.registry.get(plugin_id)
    overrides = {plugin_id: body["overrides"]} if body.get("overrides") else None
    run_id = call.web.service.trigger(pipeline, trigger="api", plugins=[plugin_id],
                                      overrides=overrides, use_cache=body.get("use_cache", True))
    return {"run_id": run_id, "pipeline": pipeline, "plugins": [plugin_id],
            "status": RunStatus.RUNNING, "url": f"/api/runs/{run_id}"}


def cancel(call: Call) -> dict:
    plugin_id, project = call.path["plugin_id"], call.web.project
    project.registry.get(plugin_id)
    runs = running_in(call, plugin_id)
    if not runs:
        raise NotRunning(f"plugin {plugin_id!r} is not running in any run; nothing to cancel")
    return {"plugin": plugin_id,
            "cancelled_in": [call.web.service.cancel(run_id, plugin_id) for run_id in runs]}


ROUTES = (
    Route("GET", "/api/plugins", list_plugins, "Every loaded plugin (with `tag`: those with "
          "that tag; each with its `source_hash`, and `serving_last_good` + `load_errors` "
          "when its new code fails), and plugins that failed to load",
          (Param("tag", description="only plugins with this tag in TAGS"),), tag="plugins"),
    Route("GET", PLUGIN + "/config", get_config, "A plugin's effective config in a pipeline, "
          "the source of each value and the stored version", (PIPELINE,), errors=(404, 422),
          tag="plugins"),
    Route("POST", PLUGIN + "/config", set_config, "Store a new config version (the body is "
          "the config object); validated against CONFIG_SCHEMA, used by the next run",
          (PIPELINE, Param("merge", "boolean", "merge into the stored config instead of "
                           "replacing it", default=False)),
          body={"type": "object"}, body_required=True, errors=(404, 422), tag="plugins"),
    Route("GET", PLUGIN + "/config_ui", config_ui, "The plugin's config form: HTML or a JSON "
          "Schema (CONFIG_SCHEMA when the plugin gives none)", errors=(404,), tag="plugins"),
    Route("GET", PLUGIN + "/status", status, "Where the plugin is running now and its recent "
          "tasks", errors=(404,), tag="plugins"),
    Route("POST", PLUGIN + "/trigger", trigger, "Run the plugin alone in a pipeline",
          (PIPELINE,), body=OVERRIDES_BODY, status=202, errors=(404, 422), tag="plugins"),
    Route("POST", "/api/plugins/reload", reload, "Re-read every plugin now (hot reload, as "
          "on a saved file): what changed, and every plugin problem", tag="plugins"),
    Route("POST", PLUGIN + "/reload", reload, "Re-read the plugins now; this plugin's "
          "version, and its errors if its new code fails (the last good version serves)",
          errors=(404,), tag="plugins"),
    Route("POST", PLUGIN + "/cancel", cancel, "Cancel the plugin in every run where it has "
          "not ended", errors=(404, 409), tag="plugins"),
)
