"""The control panel (dashboards/): forms, compare, store views; pages in Chromium; notebook."""
from __future__ import annotations

import os
import time

import pymongo
import pytest
from browser import (DOCUMENT_READY, RUNS, browser, execute_notebook, files_under,  # noqa: F401
                     idle_cpu, page, seed_runs, served, visit)
from conftest import REPO, RUN_TIMEOUT
from playwright.sync_api import expect

from dashboards.actions import parse_overrides
from dashboards.compare import compare_runs, first_error
from dashboards.widgets.config_editor import changed_from
from dashboards.widgets.schema_form import SchemaForm
from dataflow import Engine, InvalidInput, Project
from dataflow.statuses import RunStatus
from dataflow.store.run_views import RunFilter, change_marker, matching_run_ids, runs_page

expect.set_options(timeout=15_000)
NOTEBOOK = REPO / "notebooks" / "monitoring.ipynb"

SCHEMA = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 2, "description": "Who"},
    "mode": {"enum": ["fast", "slow"], "default": "fast"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 9, "default": 3},
    "ratio": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": None},
    "on": {"type": "boolean", "default": True},
    "tickers": {"type": "array", "items": {"enum": ["A", "B", "C"]}, "default": ["A"]},
    "weights": {"type": "array", "items": {"type": "number"}}, "rules": {"type": "array"},
    "window": {"type": "object", "properties": {"days": {"type": "integer", "default": 5},
                                                "start": {"type": "string", "format": "date"}}}}}


def test_form_has_one_widget_per_kind_with_defaults_and_help():
    form = SchemaForm(SCHEMA, {"name": "ab", "weights": [1, 2.5]})
    kinds = [type(field.widget).__name__ for field in form.all_fields().values()]
    assert kinds == ["TextInput", "Select", "IntInput", "FloatInput", "Checkbox", "MultiChoice",
                     "TextAreaInput", "TextAreaInput", "IntInput", "TextInput"]
    limit, name = form.fields["limit"].widget, form.fields["name"].widget
    assert (limit.start, limit.end, limit.value, name.description) == (1, 9, 3, "Who")
    values, errors = form.check()
    assert errors == [] and values == {"name": "ab", "mode": "fast", "limit": 3, "ratio": None,
                                       "on": True, "tickers": ["A"], "weights": [1.0, 2.5],
                                       "window": {"days": 5}}


def test_form_shows_each_error_at_its_field_and_reads_nothing_bad():
    form = SchemaForm(SCHEMA, {"name": "ok"})
    form.fields["name"].widget.value = "x"
    form.forms["window"].fields["start"].widget.value = "31/12/2024"
    _, errors = form.check()
    assert {e["field"] for e in errors} == {"name", "window.start"}
    shown = form.errors_shown()
    assert "too short" in shown["name"] and "date" in shown["window.start"]
    form.fields["weights"].widget.value, form.fields["rules"].widget.value = "1\nlots", "[{"
    _, errors = form.check()
    assert [e["field"] for e in errors] == ["weights", "rules"]
    form.show_errors([{"field": "(root)", "message": "'name' is a required property"},
                      {"field": "window", "message": "bad window"},
                      {"field": "(root)", "message": "whole thing wrong"}])
    assert form.errors_shown() == {"name": "'name' is a required property",
                                   "window": "bad window", "": "whole thing wrong"}
    form.clear_errors()
    assert form.errors_shown() == {}


def test_pure_helpers_store_changes_only_compare_runs_and_parse_overrides():
    below = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    assert changed_from({"a": 1, "b": {"c": 2, "d": 4}, "e": [1, 2], "f": None}, below) == {
        "b": {"d": 4}, "e": [1, 2], "f": None}
    a = {"tasks": [{"hook": "h", "plugin": "p", "status": "failed", "error": "boom",
                    "duration": 1.0, "config": {"x": 1, "n": {"y": 2}}, "plugin_version": "1"}]}
    b = {"tasks": [{"hook": "h", "plugin": "p", "status": "completed", "duration": 1.5,
                    "config": {"x": 1, "n": {"y": 3}}, "plugin_version": "2"},
                   {"hook": "h", "plugin": "q", "status": "completed"}]}
    pairs = compare_runs(a, b)
    assert [p.task for p in pairs] == ["h.p", "h.q"] and pairs[1].a is None
    assert pairs[0].status_differs and pairs[0].version_differs
    assert pairs[0].duration_change == 0.5 and pairs[0].config_changes == [("n.y", 2, 3)]
    assert first_error(a) == ("h.p", "boom") and first_error(b) is None
    assert parse_overrides(' {"p": {"x": 1}} ') == {"p": {"x": 1}} and parse_overrides("") == {}
    for bad in ("{", '{"p": 1}', "[]"):
        with pytest.raises(InvalidInput):
            parse_overrides(bad)


def test_store_views_page_filter_and_pick_bulk_targets(store_env):
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"], tz_aware=True)
    db = client[store_env["DATAFLOW_MONGO_DB"]]
    seed_runs(db, 60)
    pages, before = [], None
    while not pages or len(pages[-1]) > 25:
        pages.append(runs_page(db, RunFilter(), before=before, limit=26))
        before = pages[-1][min(24, len(pages[-1]) - 1)]["started"]
    shown = [run["_id"] for chunk in pages for run in chunk[:25]]
    assert len(pages) == 3 and len(shown) == len(set(shown)) == 60
    middle = pages[1][0]["started"]
    ranged = runs_page(db, RunFilter(pipeline="flaky", until=middle), limit=100)
    assert ranged and all(r["pipeline"] == "flaky" and r["started"] < middle for r in ranged)
    failed = matching_run_ids(db, RunFilter(), [RunStatus.FAILED], exclude_resumed=True)
    db["runs"].update_one({"_id": failed[0]}, {"$set": {"resumed_by": "x"}})
    assert matching_run_ids(db, RunFilter(), [RunStatus.FAILED], exclude_resumed=True) == \
        failed[1:]
    db["runs"].update_one({"_id": shown[-1]}, {"$set": {"status": RunStatus.RUNNING}})
    assert change_marker(db) == {(shown[-1], RunStatus.RUNNING)}


# ---- in the browser ------------------------------------------------------------------------

def test_overview_trigger_and_watch_the_run_complete(page, served):
    page.visit("/")
    expect(page.locator(".pipeline-default")).to_contain_text("fetch_data → aggregate")
    expect(page.locator(".machine .figure-workers .figure-value")).to_have_text("2")
    expect(page.locator("iframe.task-stream")).to_have_attribute(
        "src", served.web.dask_dashboard.replace("/status", "/individual-task-stream"))
    page.shots("overview")
    page.locator(".trigger-default button").click()
    page.follow(page.locator(".message-ok .run-link"))
    page.shots("run page just after the trigger")
    expect(page.locator(".run-summary")).to_have_attribute(
        "data-status", RunStatus.COMPLETED, timeout=RUN_TIMEOUT * 1000)
    expect(page.locator(".task-row[data-status=completed]")).to_have_count(3)
    expect(page.locator(".log-line").first).to_be_visible()
    expect(page.locator(".run-graph canvas").first).to_be_visible()
    page.shots("run page completed")
    page.visit("/")
    expect(page.locator(".pipeline-default .last-run .status-completed")).to_be_visible()


def test_config_saved_is_used_by_the_next_run_and_invalid_is_refused(page, served):
    page.visit("/plugins")
    page.locator(".filter-tag select").select_option("test")
    expect(page.locator(".plugin-row")).to_have_count(1)
    page.follow(page.locator(".plugin-link"))
    expect(page.locator(".metadata")).to_contain_text("the tests")
    page.visit("/plugin?id=technical_indicators")
    page.type_in(".field-sma_period", "30")
    page.locator(".config-save button").click()
    expect(page.locator(".message-ok")).to_contain_text("saved as version 1")
    page.shots("config saved")
    page.type_in(".field-bb_std", "0")
    page.locator(".config-save button").click()
    expect(page.locator(".error-bb_std")).to_contain_text("minimum of 0")
    expect(page.locator(".message-error")).to_contain_text("not saved")
    page.shots("invalid config refused")
    history = served.web.project.config.history("technical_indicators", "default")
    assert [entry["config"] for entry in history] == [{"sma_period": 30}]
    page.locator(".config-restore button").click()
    expect(page.locator(".message-ok")).to_contain_text("version 1 restored as version 2")
    expect(page.locator(".history-row")).to_have_count(2)
    page.visit("/")
    page.locator(".trigger-default button").click()
    page.follow(page.locator(".message-ok .run-link"))
    row = page.locator('.config-row[data-task="calculate_indicators.technical_indicators"]')
    expect(row).to_contain_text('"sma_period": 30')
    page.shots("next run uses it")


def test_trigger_with_an_override_then_cancel_the_long_run(page, served):
    page.visit("/")
    page.locator(".trigger-pipeline select").select_option("slow")
    page.type_in(".trigger-overrides", '{"sleeper": {"tick": 0}}')
    page.locator(".trigger-with-options button").click()
    expect(page.locator(".message-error").last).to_contain_text("tick")
    page.type_in(".trigger-overrides", '{"sleeper": {"tick": 0.02}}')
    page.locator(".trigger-with-options button").click()
    page.follow(page.locator(".message-ok .run-link"))
    expect(page.locator(".task-row[data-status=running]")).to_have_count(1, timeout=60_000)
    expect(page.locator(".config-row")).to_contain_text('"tick": 0.02')
    page.locator(".cancel-run button").click()
    expect(page.locator(".run-summary")).to_have_attribute(
        "data-status", RunStatus.CANCELLED, timeout=60_000)
    page.shots("cancelled")


def test_bulk_resume_of_the_failed_runs_matching_the_filter(page, served, out_dir):
    service = served.web.service
    failed = [service.trigger("flaky", trigger="cli") for _ in range(2)]
    assert {service.wait(run_id, RUN_TIMEOUT).status for run_id in failed} == {RunStatus.FAILED}
    out_dir.touch("fixed")
    page.visit("/runs?pipeline=flaky&status=failed")
    expect(page.locator(".run-row")).to_have_count(2)
    page.locator(".bulk-resume button").click()
    expect(page.locator(".message-ok")).to_contain_text("resume 2 run(s)")
    page.locator(".bulk-confirm button").click()
    expect(page.locator(".message-ok")).to_contain_text("resumed 2 of 2")
    page.locator(".filter-status select").select_option(RunStatus.COMPLETED)
    expect(page.locator(".run-row")).to_have_count(2, timeout=RUN_TIMEOUT * 1000)
    page.shots("resumed runs completed")


def test_compare_two_runs_side_by_side(page, served, out_dir):
    service = served.web.service
    plain = service.trigger("default", trigger="cli")
    changed = service.trigger("default", trigger="cli",
                              overrides={"technical_indicators": {"sma_period": 25}})
    for run_id in (plain, changed, service.trigger("flaky", trigger="cli")):
        service.wait(run_id, RUN_TIMEOUT)
    out_dir.touch("fixed")
    service.wait(service.trigger("flaky", trigger="cli"), RUN_TIMEOUT)
    page.visit(f"/compare?a={plain[:10]}&b={changed[:10]}")
    row = page.locator('.compare-row[data-task="calculate_indicators.technical_indicators"]')
    expect(row.locator(".config-diff")).to_contain_text("sma_period: 20 → 25")
    page.visit("/runs?pipeline=flaky")
    page.follow(page.locator(".compare-go"))
    expect(page.locator(".run-b .first-error")).to_contain_text("not fixed yet")
    expect(page.locator(".run-a")).to_contain_text("no error")
    page.shots("compare first error")


def test_pages_show_runs_started_elsewhere_at_once_and_idle_quietly(browser, served, tmp_path):
    seed_runs(served.web.project.db, RUNS)
    context = browser.new_context(base_url=served.web.url)
    overview, runs = context.new_page(), context.new_page()
    visit(overview, "/")
    started = time.monotonic()
    runs.goto("/runs")
    expect(runs.locator(".run-row")).to_have_count(25)
    render = time.monotonic() - started
    runs.wait_for_function(DOCUMENT_READY)
    cpu = idle_cpu(seconds=5.0)
    print(f"\nruns page: {render:.3f} s with {RUNS} runs; UI threads idle: {cpu:.2%} of a core")
    assert cpu < 0.02
    elsewhere = Engine(Project(served.web.project.directory),      # as the CLI would
                       client=served.web.service.engine.client)
    with elsewhere:
        handle = elsewhere.start("slow", "cli")
        elsewhere.project.recorder.flush()
        expect(runs.locator(f'.run-row[data-run="{handle.run_id}"]')).to_be_visible(timeout=1500)
        elsewhere.cancel(handle.run_id)
        elsewhere.wait(handle, RUN_TIMEOUT)
    elsewhere.project.close()
    context.close()


@pytest.mark.timeout(600)
def test_monitoring_notebook_runs_without_writing_into_the_repository(store_env, monkeypatch):
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")
    # an editable install made before dashboards/ existed does not map it: find it anyway
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    watched = [REPO / "logs", REPO / ".dataflow" / "checkpoints"]
    before = [files_under(folder) for folder in watched]
    execute_notebook(NOTEBOOK)
    assert [files_under(folder) for folder in watched] == before
    with pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"]) as client:
        run = client[store_env["DATAFLOW_MONGO_DB"]]["runs"].find_one({"trigger": "notebook"})
    assert run is not None and run["status"] == RunStatus.COMPLETED
