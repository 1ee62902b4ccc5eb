"""Gates as the faces show and change them (`dataflow gate`, /api/gates): each gate that
is stored or named anywhere, whether it is open, and who requires it.

A gate named in `gates:` (pipelines.yaml) or GATES (a plugin) but never set is open.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dataflow.config.pipelines import NAME_PATTERN
from dataflow.errors import InvalidInput, Problem
from dataflow.store.gates import list_gates, set_gate

if TYPE_CHECKING:
    from dataflow.project import Project


def gate_users(project: Project) -> dict[str, list[str]]:
    """{gate: ["pipeline P", "plugin X", ...]} of every gate the project names."""
    users: dict[str, list[str]] = {}
    for name, pipeline in project.pipelines.items():
        for gate in pipeline.gates:
            users.setdefault(gate, []).append(f"pipeline {name}")
    for info in project.registry.plugins.values():
        for gate in info.gates:
            users.setdefault(gate, []).append(f"plugin {info.id}")
    return users


def gate_overview(project: Project) -> list[dict]:
    """Every gate, stored or named, by name: {name, open, changed_at, changed_by, reason,
    required_by}."""
    users = gate_users(project)
    gates = {gate["name"]: gate for gate in list_gates(project.db)}
    for name in users:
        gates.setdefault(name, {"name": name, "open": True, "changed_at": None,
                                "changed_by": None, "reason": "never set (open)"})
    return [{**gates[name], "required_by": users.get(name, [])} for name in sorted(gates)]


def change_gate(project: Project, name: str, is_open: bool, by: str,
                reason: str | None = None) -> dict:
    """Open or close gate `name`; the gate as stored, with who requires it."""
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        message = (f"{name!r} is not a valid gate name; use letters, digits, '_', '.' and "
                   "'-', starting with a letter, digit or '_'")
        raise InvalidInput(message, [Problem("", "name", message)])
    gate = set_gate(project.db, name, is_open, by, reason)
    return {**gate, "required_by": gate_users(project).get(name, [])}
