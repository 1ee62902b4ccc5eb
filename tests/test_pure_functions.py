"""The engine's pure decisions, without a cluster or a server: the wait before a retry and
which errors are retried, a run's status from its tasks, the merging of queued history
updates into one bulk write, the worker bounds of a LocalCluster, and plugin config
layering (schema defaults, then YAML, then stored values)."""
from __future__ import annotations

import copy

import pytest
from pymongo import InsertOne, UpdateOne

from dataflow.cluster.client import MIN_WORKERS, worker_bounds
from dataflow.config.layers import deep_merge, layer_sources, merge_layers, schema_defaults
from dataflow.config.settings import ClusterSettings
from dataflow.run.state import run_status
from dataflow.statuses import RunStatus, TaskStatus
from dataflow.store.recorder import APPEND, merge_updates
from dataflow.worker.retry import RetryPolicy

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("policy, waits", [
    (RetryPolicy(delay=0.2, backoff=2.0), [0.2, 0.4, 0.8, 1.6]),
    (RetryPolicy(delay=0.3, backoff=10.0, max_delay=0.4), [0.3, 0.4, 0.4, 0.4]),
    (RetryPolicy(delay=1.0, backoff=1.0), [1.0, 1.0, 1.0, 1.0]),
    (RetryPolicy(delay=0.0), [0.0, 0.0, 0.0, 0.0]),
], ids=["doubling", "capped-by-max-delay", "constant", "no-delay"])
def test_wait_before_retry_n_is_delay_times_backoff_capped(policy, waits):
    assert [policy.wait_before(n) for n in range(1, 5)] == pytest.approx(waits)


def test_jitter_spreads_the_wait_within_its_fraction_and_never_below_zero():
    spread = RetryPolicy(delay=1.0, backoff=2.0, jitter=0.1)
    waits = [spread.wait_before(2) for _ in range(200)]
    assert all(1.8 <= wait <= 2.2 for wait in waits)
    assert len(set(waits)) > 1, "the waits differ"
    wild = RetryPolicy(delay=1.0, jitter=5.0)
    assert all(wild.wait_before(1) >= 0.0 for _ in range(200))


def test_the_plugins_retry_overrides_the_central_policy_key_by_key():
    central = {"max_retries": 2, "delay": 0.1, "backoff": 1.0}
    policy = RetryPolicy.from_layers(central, {"max_retries": 5, "retry_on": ["OSError"]})
    assert policy == RetryPolicy(max_retries=5, delay=0.1, backoff=1.0, retry_on=("OSError",))
    assert RetryPolicy.from_layers({}, None) == RetryPolicy()
    assert RetryPolicy.from_layers(None, {"delay": 3}).delay == 3


def test_which_errors_are_retried_and_how_often():
    policy = RetryPolicy(max_retries=2, retry_on=("ConnectionError",))
    assert policy.allows(ConnectionResetError("x"), 1), "a subclass matches"
    assert policy.allows(ConnectionError("x"), 2)
    assert not policy.allows(ConnectionError("x"), 3), "no more than max_retries retries"
    assert not policy.allows(ValueError("x"), 1)
    anything = RetryPolicy(max_retries=1)
    assert anything.allows(ValueError("x"), 1), "retry_on None retries any Exception"
    assert not anything.allows(KeyboardInterrupt(), 1), "never what is not an Exception"
    assert not RetryPolicy().allows(RuntimeError("x"), 1), "no retries by default"


def tasks(*statuses, stops=()) -> dict:
    """Task states as the run state keeps them: {task_id: {"status", "stops_pipeline"}}."""
    return {f"hook.p{i}": {"status": status, "stops_pipeline": i in stops}
            for i, status in enumerate(statuses)}


C, F, T, X, S = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.TIMED_OUT,
                 TaskStatus.CANCELLED, TaskStatus.SKIPPED)


@pytest.mark.parametrize("states, cancel_requested, expected", [
    (tasks(C, C), False, RunStatus.COMPLETED),
    (tasks(), False, RunStatus.COMPLETED),
    (tasks(C, F), False, RunStatus.COMPLETED_WITH_ERRORS),
    (tasks(C, T), False, RunStatus.COMPLETED_WITH_ERRORS),
    (tasks(C, X), False, RunStatus.COMPLETED_WITH_ERRORS),     # one plugin cancelled
    (tasks(F, S, stops=(0,)), False, RunStatus.FAILED),
    (tasks(T, S, stops=(0,)), False, RunStatus.FAILED),
    (tasks(C, C, stops=(0,)), False, RunStatus.COMPLETED),      # a fail-hard plugin that did well
    (tasks(C, X), True, RunStatus.CANCELLED),
    (tasks(F, X, stops=(0,)), True, RunStatus.CANCELLED),       # the cancel wins
    (tasks(C, C), True, RunStatus.COMPLETED),                   # cancelled after it was done
], ids=["all-done", "no-tasks", "failed", "timed-out", "plugin-cancelled", "fail-hard",
        "fail-hard-timed-out", "fail-hard-done", "run-cancelled", "cancel-over-fail-hard",
        "cancel-too-late"])
def test_run_status_follows_from_its_tasks(states, cancel_requested, expected):
    status = run_status(states, cancel_requested)
    assert status == expected and status == expected.value, "a RunStatus is its string"


def test_updates_of_one_document_merge_into_one_upsert_later_fields_winning():
    batch = [("tasks", "r:a", {"status": "running", "worker": "w1"}, {"created": 1}),
             ("runs", "r", {"status": "running"}, None),
             ("tasks", "r:a", {"status": "completed"}, {"created": 2, "status": "pending"}),
             ("tasks", "r:b", {"status": "pending"}, None)]
    assert merge_updates(batch) == {
        "tasks": [UpdateOne({"_id": "r:a"}, {"$set": {"status": "completed", "worker": "w1"},
                                             "$setOnInsert": {"created": 2}}, upsert=True),
                  UpdateOne({"_id": "r:b"}, {"$set": {"status": "pending"}}, upsert=True)],
        "runs": [UpdateOne({"_id": "r"}, {"$set": {"status": "running"}}, upsert=True)]}


def test_appended_documents_stay_separate_inserts_in_order():
    batch = [("logs", "r:1", {"message": "one"}, APPEND),
             ("tasks", "r:a", {"status": "running"}, None),
             ("logs", "r:2", {"message": "two"}, APPEND)]
    operations = merge_updates(batch)
    assert operations["logs"] == [InsertOne({"_id": "r:1", "message": "one"}),
                                  InsertOne({"_id": "r:2", "message": "two"})]
    assert operations["tasks"] == [
        UpdateOne({"_id": "r:a"}, {"$set": {"status": "running"}}, upsert=True)]
    assert merge_updates([]) == {}


@pytest.mark.parametrize("settings, cores, bounds", [
    (ClusterSettings(), 8, (MIN_WORKERS, 6)),                      # 0.8 × 8 cores
    (ClusterSettings(), 1, (MIN_WORKERS, MIN_WORKERS)),            # never below two
    (ClusterSettings(cpu_target=0.5), 16, (MIN_WORKERS, 8)),
    (ClusterSettings(n_workers=4), 8, (4, 6)),
    (ClusterSettings(n_workers=10), 8, (6, 6)),                    # floor ≤ ceiling
    (ClusterSettings(max_workers=12), 8, (MIN_WORKERS, 12)),
    (ClusterSettings(n_workers=5, max_workers=3), 8, (3, 3)),
])
def test_worker_bounds_follow_the_cpu_target_and_the_settings(settings, cores, bounds):
    assert worker_bounds(settings, cores) == bounds


def test_worker_bounds_default_to_this_machines_cores():
    minimum, maximum = worker_bounds(ClusterSettings())
    assert MIN_WORKERS <= minimum <= maximum


SCHEMA = {"type": "object", "properties": {
    "window": {"type": "integer", "default": 5},
    "label": {"type": "string"},                                              # no default
    "bands": {"type": "object", "properties": {
        "n": {"type": "integer", "default": 20}, "width": {"type": "number", "default": 2}}},
    "limits": {"type": "object", "default": {"low": 1}, "properties": {
        "low": {"type": "integer", "default": 0}}},                          # its own default wins
    "empty": {"type": "object", "properties": {"x": {"type": "string"}}},
    "tags": {"type": "array", "default": ["a"]}}}


def test_schema_defaults_reach_into_nested_objects():
    defaults = schema_defaults(SCHEMA)
    assert defaults == {"window": 5, "bands": {"n": 20, "width": 2}, "limits": {"low": 1},
                        "tags": ["a"]}
    defaults["tags"].append("b")
    assert SCHEMA["properties"]["tags"]["default"] == ["a"], "the defaults are copies"
    assert schema_defaults({}) == {} and schema_defaults({"properties": None}) == {}


def test_layers_merge_lowest_first_nested_mappings_key_by_key():
    layers = [("default", schema_defaults(SCHEMA)),
              ("yaml", {"window": 10, "bands": {"width": 2.5}, "tags": ["b", "c"]}),
              ("pipeline", None),
              ("stored", {"bands": {"n": 9}, "label": "x"})]
    before = copy.deepcopy(layers)
    assert merge_layers(layers) == {"window": 10, "bands": {"n": 9, "width": 2.5},
                                    "limits": {"low": 1}, "tags": ["b", "c"], "label": "x"}
    assert layers == before, "no layer is changed"
    assert layer_sources(layers) == {"window": "yaml", "bands": "stored", "limits": "default",
                                     "tags": "yaml", "label": "stored"}
    assert deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}, "a scalar replaces a mapping"
    assert deep_merge({"a": 1}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert merge_layers([]) == {}
