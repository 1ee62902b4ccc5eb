"""/health (open to anyone: no secrets, no addresses) and /metrics (Prometheus).

/health checks the store, the cluster, the cron loop when the server runs one
(`web.extras["scheduler"]`), then every check registered in `web.extras["health_checks"]`
({name: callable returning {"ok": bool, ...}}). 200 when all are ok, else 503.
"""
from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST
from pymongo.errors import PyMongoError

from dataflow.errors import DataflowError
from dataflow.store.schema import schema_status
from dataflow.web.api.route import Call, Raw, Route
from dataflow.web.metrics import metrics_for

log = logging.getLogger("dataflow.web.health")
SCHEDULER_KEYS = ("holding", "last_tick", "queued")


def _store(call: Call) -> dict:
    started = time.perf_counter()
    try:
        db = call.web.project.db
        db.command("ping")
        schema = schema_status(db)
    except (PyMongoError, DataflowError) as error:
        log.warning("health: store unavailable: %s", error)
        return {"ok": False, "error": "store unavailable"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "schema_version": schema["version"], "schema_pending": len(schema["pending"])}


def _cluster(call: Call) -> dict:
    engine = call.web.service.engine
    try:
        workers = len(engine.client.scheduler_info().get("workers", {}))
    except Exception as error:  # noqa: BLE001 -- cluster down or unreachable: report it
        log.warning("health: cluster unavailable: %s", error)
        return {"ok": False, "error": "cluster unavailable"}
    return {"ok": workers > 0, "workers": workers, "runs_active": len(call.web.service.active())}


def _extra(check) -> dict:
    try:
        result = dict(check())
    except Exception as error:  # noqa: BLE001 -- a failing check is reported, not raised
        log.warning("health check failed: %s", error)
        return {"ok": False, "error": f"check failed: {type(error).__name__}"}
    return {**result, "ok": bool(result.get("ok"))}


def _scheduler(loop) -> dict:
    """The cron loop's state, without who holds its lease (host names stay private)."""
    status = loop.status()
    return {"ok": bool(status["running"]), **{key: status.get(key) for key in SCHEDULER_KEYS}}


def health(call: Call) -> dict:
    checks = {"store": _store(call), "cluster": _cluster(call)}
    if call.web.extras.get("scheduler") is not None:
        checks["scheduler"] = _extra(lambda: _scheduler(call.web.extras["scheduler"]))
    for name, check in dict(call.web.extras.get("health_checks") or {}).items():
        checks[name] = _extra(check)
    healthy = all(check["ok"] for check in checks.values())
    call.extra["status"] = 200 if healthy else 503
    return {"status": "ok" if healthy else "unhealthy", **checks}


def metrics(call: Call) -> Raw:
    return Raw(CONTENT_TYPE_LATEST, metrics_for(call.web).render())


ROUTES = (
    Route("GET", "/health", health, "Whether the store, the cluster (and the scheduler, when "
          "it runs) are working; 503 when one is not", auth=False, tag="operations"),
    Route("GET", "/metrics", metrics, "Prometheus metrics (text format)", tag="operations",
          content_type=CONTENT_TYPE_LATEST, result={"type": "string"}),
)
