"""Alerts wired to real runs: a local HTTP server as the Slack webhook, aiosmtpd for email,
the real CLI, an in-process server, user listeners from a listeners/ folder, and the
absence checks against the test's store."""
from __future__ import annotations

import json
import logging
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest
from alert_fixtures import (ONE, TOKEN, alerting, by_level, delivered, slack,  # noqa: F401
                            slack_system, smtp, unreachable_url)
from conftest import RUN_TIMEOUT, plugin_source, wait_until
from prometheus_client.parser import text_string_to_metric_families
from web_fixtures import serve

from dataflow.statuses import RunStatus


def test_cli_run_posts_an_error_record_to_slack(slack, make_project, cli):
    body = 'context["services"]["log"].error("feed down", symbol="XYZ")\nreturn 1'
    project = make_project(ONE, {"load": plugin_source("load", "load", body=body)},
                           system=slack_system(slack.url))
    result = cli("run", "p", project=project)
    assert result.returncode == 0, result.stdout + result.stderr
    errors = by_level(slack.posts, "ERROR")
    assert len(errors) == 1, slack.posts
    assert "feed down" in errors[0]["text"] and "load" in errors[0]["text"]
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("where", ["slow", "unreachable"])
def test_cli_run_completes_and_exits_promptly_when_slack_is_slow_or_down(
        where, slack, make_project, cli):
    slack.delay = 60.0
    url = slack.url if where == "slow" else unreachable_url()
    body = 'context["services"]["log"].error("feed down")\nreturn 1'
    project = make_project(ONE, {"load": plugin_source("load", "load", body=body)},
                           system=slack_system(url, timeout=60, max_retries=100,
                                               retry_backoff=1))
    start = time.monotonic()
    result = cli("run", "p", "--json", project=project)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == RunStatus.COMPLETED
    assert elapsed < 50, f"the CLI waited {elapsed:.0f} s for its alerts"
    assert TOKEN not in result.stdout + result.stderr


def test_plugin_raise_and_fatal_reach_slack(slack, make_project, engine_for):
    pipelines = "pipelines:\n  raiser: {hooks: [a]}\n  stopper: {hooks: [b]}\n"
    fatal = 'context["services"]["log"].fatal("cannot go on", reason="corrupt input")'
    project = make_project(pipelines, {
        "boom": plugin_source("boom", "a", ["raiser"], 'raise RuntimeError("broken feed")'),
        "halt": plugin_source("halt", "b", ["stopper"], fatal)}, system=slack_system(slack.url))
    engine, alerts = alerting(engine_for, project)
    assert engine.run("raiser", timeout=RUN_TIMEOUT).status == RunStatus.COMPLETED_WITH_ERRORS
    assert engine.run("stopper", timeout=RUN_TIMEOUT).status == RunStatus.FAILED
    delivered(engine, alerts)
    raised = [p for p in by_level(slack.posts, "ERROR") if "broken feed" in p["text"]]
    assert raised and "raiser" in raised[0]["text"], slack.posts
    [stopped] = by_level(slack.posts, "FATAL")
    assert stopped["text"].startswith("[FATAL (pipeline stopped)] FATAL in stopper / halt")
    header, facts, message = stopped["blocks"][:3]
    assert "the pipeline was stopped" in header["text"]["text"]
    fields = [f["text"] for f in facts["fields"]]
    assert "*Level*\nFATAL (pipeline stopped)" in fields and "*Plugin*\nhalt" in fields
    assert "*Pipeline*\nstopper" in fields and message["text"]["text"] == "cannot go on"
    assert "corrupt input" in json.dumps(stopped["blocks"][3])


def test_failed_run_is_mailed_for_a_pipeline_that_asks(smtp, make_project, engine_for):
    pipelines = textwrap.dedent("""
        pipelines:
          watched: {hooks: [a], alerts: {email: {on_failure: true}}}
          quiet: {hooks: [a]}
    """)
    system = textwrap.dedent(f"""
        alerts:
          email: {{smtp_host: 127.0.0.1, smtp_port: {smtp.port}, from: dataflow@example.com,
                  to: [ops@example.com], starttls: false, on_failure: false}}
    """)
    project = make_project(pipelines, {"boom": plugin_source(
        "boom", "a", body='raise RuntimeError("feed down")', FAIL_HARD=True)}, system=system)
    engine, alerts = alerting(engine_for, project)
    for pipeline in ("watched", "quiet"):
        assert engine.run(pipeline, timeout=RUN_TIMEOUT).status == RunStatus.FAILED
    delivered(engine, alerts)
    [(recipients, message)] = smtp.messages
    assert recipients == ["ops@example.com"]
    assert message["Subject"] == "[dataflow] watched: run failed"
    assert "feed down" in message.get_content() and "Pipeline: watched" in message.get_content()


def test_identical_errors_collapse_into_one_with_a_count(slack, make_project, engine_for):
    body = 'for _ in range(5):\n    context["services"]["log"].error("same thing")\nreturn 1'
    project = make_project(ONE, {"load": plugin_source("load", "load", body=body)},
                           system=slack_system(slack.url, collapse_window=300))
    engine, alerts = alerting(engine_for, project)
    assert engine.run("p", timeout=RUN_TIMEOUT).status == RunStatus.COMPLETED
    delivered(engine, alerts)
    first, summary = slack.posts
    assert "same thing" in first["text"] and "repeated" not in first["text"]
    assert "(repeated 4 times in the last 300 s)" in summary["text"]
    assert alerts.stats()["collapsed"] == 4


def test_alert_test_command(slack, make_project, cli):
    good = make_project(ONE, system=slack_system(slack.url))
    result = cli("alert", "test", project=good)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "slack: test alert sent" in result.stdout
    assert [p["text"].split("]")[0] for p in slack.posts] == ["[TEST"]
    url = unreachable_url()
    (good / "config" / "system.yaml").write_text(slack_system(url, timeout=2))
    result = cli("alert", "test", project=good)
    shown = result.stdout + result.stderr
    assert result.returncode == 1, shown
    assert "slack: test alert not sent" in result.stderr and "Traceback" not in shown
    assert TOKEN not in shown and url not in shown
    (good / "config" / "system.yaml").write_text("")
    result = cli("alert", "test", project=good)
    assert result.returncode == 1 and "no alert channel is configured" in result.stderr


LISTENERS = {
    "boom": "def on_event(event):\n    raise ValueError('listener bug')\n",
    "stuck": "import os, time\nRELEASE = {release!r}\n"
             "def _wait(event):\n    while not os.path.exists(RELEASE):\n"
             "        time.sleep(0.05)\nLISTENER = _wait\n",
    "good": "import json\nSEEN = {seen!r}\ndef on_event(event):\n"
            "    with open(SEEN, 'a') as handle:\n        handle.write(json.dumps(event) + '\\n')\n",
}


def test_user_listeners_that_raise_or_hang_do_not_harm_the_run(make_project, engine_for,
                                                                out_dir, caplog):
    project = make_project("pipelines:\n  p: {hooks: [load, save]}\n", {
        "load": plugin_source("load", "load", body="return 1"),
        "save": plugin_source("save", "save", body="return 2")})
    (project / "listeners").mkdir()
    seen, release = out_dir / "seen.jsonl", out_dir / "release-listener"
    for name, code in LISTENERS.items():
        source = code.replace("{release!r}", repr(str(release))).replace("{seen!r}",
                                                                         repr(str(seen)))
        (project / "listeners" / f"{name}.py").write_text(source)
    engine = engine_for(project)
    assert engine.observers.names() == ["listeners/boom", "listeners/good", "listeners/stuck"]
    with caplog.at_level(logging.ERROR, logger="dataflow.listeners"):
        result = engine.run("p", timeout=RUN_TIMEOUT)
        assert result.status == RunStatus.COMPLETED
        wait_until(lambda: seen.exists() and "run_finished" in seen.read_text(), 10)
    events = [json.loads(line) for line in seen.read_text().splitlines()]
    assert events[0]["kind"] == "run_started" and events[-1]["kind"] == "run_finished"
    assert {"task_started", "task_finished"} <= {e["kind"] for e in events}
    assert events[-1]["status"] == RunStatus.COMPLETED and events[-1]["pipeline"] == "p"
    assert isinstance(events[-1]["duration"], float) and events[-1]["error"] is None
    failures = [r for r in caplog.records if "listeners/boom failed" in r.getMessage()]
    assert len(failures) == 1, "logged once a minute, not once an event"
    release.touch()


def test_absence_alerts_for_a_stale_pipeline_and_an_overdue_run(slack, make_project,
                                                                 engine_for, out_dir):
    pipelines = textwrap.dedent("""
        pipelines:
          fresh: {hooks: [a], max_data_age: 1h}
          never: {hooks: [a], max_data_age: 26h}
          slowpoke: {hooks: [b], expected_duration: 30m}
    """)
    project = make_project(pipelines, {
        "quick": plugin_source("quick", "a", body="return 1"),
        "lingers": plugin_source("lingers", "b", out=out_dir,
                                 body="mark('started')\nwait_for('go')\nreturn 1")},
        system=slack_system(slack.url))
    engine, alerts = alerting(engine_for, project)
    assert engine.run("fresh", timeout=RUN_TIMEOUT).status == RunStatus.COMPLETED
    engine.project.recorder.flush()
    now = datetime.now(timezone.utc)
    assert [a.title for a in alerts.check_absence(engine.project.db, now)] == [
        "never: no successful run within 1 d 2 h"]
    handle = engine.start("slowpoke")
    wait_until(lambda: out_dir.read("lingers", "started") is not None, 60)
    engine.project.recorder.flush()
    later = alerts.check_absence(engine.project.db, now + timedelta(hours=2))
    assert sorted(a.level for a in later) == ["ABSENCE", "OVERDUE"]
    assert {a.pipeline for a in later} == {"fresh", "slowpoke"}, "never: raised once only"
    out_dir.touch("go")
    assert engine.wait(handle, RUN_TIMEOUT).status == RunStatus.COMPLETED
    assert alerts.dispatcher.flush(15)
    assert len(slack.posts) == 3 and "last succeeded" in json.dumps(slack.posts)


def test_serve_alerts_and_counts_them_on_metrics(slack, tmp_path_factory, mongo_uri,
                                                 dask_client):
    served_gen = serve(tmp_path_factory, mongo_uri, dask_client, "127.0.0.1",
                       slack_system(slack.url))
    api = next(served_gen)
    try:
        api.out.touch("broken")
        reply = api.post("/api/pipelines/flaky/trigger")
        assert reply.status_code == 202, reply.text
        wait_until(lambda: by_level(slack.posts, "ERROR"), 60, 0.1, "the Slack post")
        assert "broken on purpose" in by_level(slack.posts, "ERROR")[0]["text"]

        def sent():
            families = {f.name: f for f in text_string_to_metric_families(
                api.get("/metrics").text)}
            return families["dataflow_alerts_sent"].samples[0].value >= 1
        wait_until(sent, 15, 0.2, "dataflow_alerts_sent_total counted")
        assert TOKEN not in api.get("/metrics").text
    finally:
        served_gen.close()
