"""The gate routes (spec 002): list the gates, open or close one. A pipeline (`gates:` in
pipelines.yaml) or a plugin (GATES) that requires a closed gate does not start."""
from __future__ import annotations

from dataflow.run.gate_view import change_gate, gate_overview
from dataflow.web.api.route import Call, Route

API_OPERATOR = "api"
CHANGE_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "reason": {"type": "string", "description": "why; shown with the gate and in the "
               "refusals it causes"},
    "by": {"type": "string", "description": "who changes it (default: api)"}}}


def list_gates(call: Call) -> dict:
    return {"gates": gate_overview(call.web.project)}


def _change(call: Call, is_open: bool) -> dict:
    body = call.body or {}
    return change_gate(call.web.project, call.path["name"], is_open,
                       body.get("by") or API_OPERATOR, body.get("reason"))


def open_gate(call: Call) -> dict:
    return _change(call, True)


def close_gate(call: Call) -> dict:
    return _change(call, False)


ROUTES = (
    Route("GET", "/api/gates", list_gates, "Every gate (stored, or named by a pipeline or "
          "plugin), open or closed, and who requires it", tag="gates"),
    Route("POST", "/api/gates/{name}/open", open_gate, "Open a gate: what requires it may "
          "start again", body=CHANGE_BODY, errors=(422,), tag="gates"),
    Route("POST", "/api/gates/{name}/close", close_gate, "Close a gate: pipelines and plugins "
          "that require it do not start (their record says which gate)", body=CHANGE_BODY,
          errors=(422,), tag="gates"),
)
