"""The pipeline routes: list them, and trigger one (optionally only some of its plugins,
with config overrides for this run checked against each plugin's CONFIG_SCHEMA before
anything is recorded)."""
from __future__ import annotations

from dataflow.statuses import RunStatus
from dataflow.web.api.route import Call, Route

TRIGGER_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "overrides": {"type": "object", "description": "{plugin id: {field: value}} for this run",
                  "additionalProperties": {"type": "object"}},
    "plugins": {"type": "array", "items": {"type": "string"}, "uniqueItems": True,
                "description": "run only these plugins (in their hooks' order)"},
    "use_cache": {"type": "boolean", "description": "reuse cached outputs (default true)"},
    "force": {"type": "boolean", "description": "start even if an upstream pipeline is not "
              "fresh (a closed gate still refuses; 409 says which)"},
    "with_upstream": {"type": "boolean", "description": "run the upstream pipelines first, "
                      "in the same Dask graph (recorded under this pipeline)"},
    "trigger": {"enum": ["api", "cli", "ui"], "description": "who asks (recorded on the run; "
                "`dataflow run` handing its run to the server says cli)"}}}


def list_pipelines(call: Call) -> dict:
    return {"pipelines": call.web.project.config.list_pipelines()}


def trigger(call: Call) -> dict:
    name, body = call.path["name"], call.body or {}
    run_id = call.web.service.trigger(name, trigger=body.get("trigger", "api"),
                                      overrides=body.get("overrides"),
                                      plugins=body.get("plugins"),
                                      use_cache=body.get("use_cache", True),
                                      force=bool(body.get("force")),
                                      with_upstream=bool(body.get("with_upstream")))
    return {"run_id": run_id, "pipeline": name, "status": RunStatus.RUNNING,
            "url": f"/api/runs/{run_id}"}


ROUTES = (
    Route("GET", "/api/pipelines", list_pipelines, "Every pipeline (YAML and stored), and "
          "stored ones that are ignored", tag="pipelines"),
    Route("POST", "/api/pipelines/{name}/trigger", trigger, "Start a run; answers at once "
          "with its id", body=TRIGGER_BODY, status=202, errors=(404, 409, 422),
          tag="pipelines"),
)
