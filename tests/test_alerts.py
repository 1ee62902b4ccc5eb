"""Alerts with real parts: a local HTTP server as the Slack webhook, a local SMTP server
(aiosmtpd) for email, real threads and sockets; absence rules on fixed datetimes."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from alert_fixtures import TOKEN, slack, smtp_server  # noqa: F401 (slack is a fixture)
from conftest import free_port, wait_until
from dataflow.alerts import (Alert, AlertDispatcher, AlertRules, AlertSettings, EmailNotifier,
                             EmailSettings, SlackNotifier, pipeline_email, redact,
                             run_finished_event, send_test_alert)
from dataflow.statuses import RunStatus, TaskStatus

PASSWORD = "right-password-42"
UTC = timezone.utc
MAIL = EmailSettings(smtp_host="127.0.0.1", username="dataflow", password=PASSWORD, starttls=False,
                     sender="dataflow@example.com", to=("ops@example.com",))
PIPELINES = {"prices": {"email": {"on_success": True, "to": ["desk@example.com"]}}}


@pytest.fixture
def smtp():
    """A local SMTP server that requires PASSWORD; `.email` are settings that reach it."""
    with smtp_server(PASSWORD) as mailbox:
        mailbox.email = replace(MAIL, smtp_port=mailbox.port)
        yield mailbox


def log_event(level="ERROR", message="feed down"):
    return {"kind": "log", "run_id": "r1", "pipeline": "prices", "hook": "load", "plugin": "fetch",
            "level": level, "message": message, "fields": {"symbol": "XYZ"},
            "time": "2024-05-01T10:00:00+00:00"}


def run_event(status, pipeline="prices", run_id="r1"):
    started = datetime(2024, 5, 1, 10, tzinfo=UTC)
    return run_finished_event(run_id, pipeline, status, started, started + timedelta(seconds=75),
                              "fetch: feed down" if status != RunStatus.COMPLETED else None)


def timed_submit(dispatcher, alert) -> float:
    start = time.perf_counter()
    dispatcher.submit(alert)
    return time.perf_counter() - start


def test_settings_from_mapping_env_problems_and_public_view():
    data = {"alerts": {"slack": {"webhook_url": "not-a-url", "alert_on_levels": ["warning"]},
                       "timeout": 0, "email": {"smtp_host": "smtp.example.com", "to": ["x"],
                                               "password": PASSWORD, "port": 25}}}
    settings, problems = AlertSettings.from_mapping(data, {})
    assert {p.key.split(".", 1)[1] for p in problems} == {
        "slack.webhook_url", "timeout", "email.to", "email.from", "email.port"}
    assert {p.file for p in problems} == {"config/system.yaml"} and settings.slack_webhook is None
    assert settings.alert_on_levels == ("WARNING",) and settings.timeout == AlertSettings().timeout
    url = f"https://hooks.slack.com/services/T0/B0/{TOKEN}"
    settings = AlertSettings.from_mapping(data, {"DATAFLOW_SLACK_WEBHOOK": url})[0]
    assert AlertSettings.from_mapping({"slack": {"webhook_url": url}}, {})[0] == replace(
        AlertSettings(), slack_webhook=url) and settings.slack_webhook == url    # legacy layout
    assert AlertSettings.from_mapping({}, {}) == (AlertSettings(), [])
    public = settings.public()
    assert (public["slack_webhook"], public["email"]["password"]) == ("set", "set")
    assert AlertSettings().public()["slack_webhook"] == "not set"
    for text in (repr(settings), str(public), repr(SlackNotifier(url)),
                 repr(EmailNotifier(settings.email))):
        assert TOKEN not in text and PASSWORD not in text


def test_rules_and_pipeline_email_overrides():
    rules = AlertRules(AlertSettings(email=MAIL), PIPELINES)
    error, = rules.alerts_for(log_event())
    assert (error.level, error.pipeline, error.plugin, error.channels) == ("ERROR", "prices",
                                                                            "fetch", ("slack",))
    assert "pipeline was stopped" in rules.alerts_for(log_event("FATAL"))[0].title
    assert rules.alerts_for(log_event("INFO")) == []
    assert rules.alerts_for({"kind": "task_finished", "status": TaskStatus.FAILED}) == []
    failed, = rules.alerts_for(run_event(RunStatus.COMPLETED_WITH_ERRORS, "other"))
    assert (failed.level, failed.channels, failed.recipients) == ("FAILED-RUN", ("email",),
                                                                  ("ops@example.com",))
    assert rules.alerts_for(run_event(RunStatus.COMPLETED))[0].recipients == ("desk@example.com",)
    assert rules.alerts_for(run_event(RunStatus.COMPLETED, "other")) == []
    assert AlertRules(AlertSettings()).alerts_for(run_event(RunStatus.FAILED)) == []
    base = EmailSettings(smtp_host="h", sender="s@x", to=("ops@x",))
    merged, problems = pipeline_email(base, {"email": {"on_success": True, "to": ["d@x"]}}, "p")
    assert (merged.on_success, merged.on_failure, merged.to, problems) == (True, True, ("d@x",), [])
    _, problems = pipeline_email(base, {"email": {"smtp_host": "other"}}, "p")
    assert [(p.file, p.key) for p in problems] == [("config/pipelines.yaml",
                                                    "pipelines.p.alerts.email.smtp_host")]
    assert pipeline_email(base, None, "p") == (base, [])


def test_slack_receives_the_alert_payload(slack, caplog):
    caplog.set_level(logging.DEBUG)        # urllib3 logs request lines at DEBUG
    alert, = AlertRules(AlertSettings()).alerts_for(log_event("FATAL", "disk full"))
    with AlertDispatcher(AlertSettings(slack_webhook=slack.url)) as dispatcher:
        assert timed_submit(dispatcher, alert) < 0.05
        assert dispatcher.flush(5) and dispatcher.stats()["sent"] == 1
    assert "POST ***" in caplog.text and TOKEN not in caplog.text
    post = slack.posts[0]
    assert slack.paths[0] == f"/services/T000/B000/{TOKEN}"
    blocks = json.dumps(post["blocks"])
    assert "FATAL" in post["text"] and "disk full" in post["text"]
    for word in ("FATAL", "pipeline stopped", "prices", "fetch", "r1", "disk full", "XYZ"):
        assert word in blocks, word


def test_identical_alerts_collapse_into_one_summary(slack):
    settings = AlertSettings(slack_webhook=slack.url, collapse_window=0.5)
    alert = Alert("ERROR", "ERROR in prices / fetch", "feed down", "prices", "r1", "fetch")
    with AlertDispatcher(settings) as dispatcher:
        for run in range(5):      # other runs, same news: collapsed
            dispatcher.submit(replace(alert, run_id=f"r{run}"))
        wait_until(lambda: len(slack.posts) >= 2, 5, message="the summary")  # not flushed: timed
        assert dispatcher.flush(5)
        stats = dispatcher.stats()
    assert len(slack.posts) == 2
    assert "(repeated" not in slack.posts[0]["text"]
    assert "(repeated 4 times in the last 0.5 s)" in slack.posts[1]["text"]
    assert (stats["sent"], stats["collapsed"], stats["undelivered"]) == (2, 4, 0)


def test_unreachable_webhook_never_blocks_and_never_leaks(caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}/services/T000/B000/{TOKEN}"     # nothing listens
    settings = AlertSettings(slack_webhook=url, max_retries=2, retry_backoff=0.01)
    dispatcher = AlertDispatcher(settings)
    try:
        assert timed_submit(dispatcher, Alert("ERROR", "t", "boom", "prices")) < 0.05
        wait_until(lambda: dispatcher.stats()["undelivered"] == 1, 10, message="the failure count")
    finally:
        assert dispatcher.stop(5)
    failures = [r.levelname for r in caplog.records if r.name == "dataflow.alerts"]
    assert failures == ["WARNING", "WARNING", "ERROR"] and dispatcher.stats()["sent"] == 0
    assert "ConnectionError" in caplog.text and "***" in caplog.text
    quoted = f"{url} {url.replace(':', '%3A')} url: /services/T000/B000/{TOKEN}"
    for text in (caplog.text, repr(dispatcher), str(dispatcher.stats()), redact(quoted, [url])):
        assert TOKEN not in text


def test_slow_webhook_times_out_and_a_full_queue_drops_oldest(slack, caplog):
    slack.delay = 3.0
    settings = AlertSettings(slack_webhook=slack.url, timeout=1.0, max_retries=0, queue_size=2)
    with AlertDispatcher(settings) as dispatcher:
        # never waits for a send: each submit returns well inside one send's timeout
        assert max(timed_submit(dispatcher, Alert("ERROR", "t", f"{n}")) for n in range(6)) < 0.5
        assert dispatcher.flush(10)
        stats = dispatcher.stats()
    assert stats["dropped"] >= 3 and stats["undelivered"] + stats["dropped"] == 6 and not stats["sent"]
    assert "Timeout" in caplog.text and TOKEN not in caplog.text


def test_run_emails_through_a_real_smtp_server(smtp):
    rules = AlertRules(AlertSettings(email=smtp.email), PIPELINES)
    with AlertDispatcher(AlertSettings(email=smtp.email)) as dispatcher:
        for event in (run_event(RunStatus.FAILED, run_id="r9"), run_event(RunStatus.COMPLETED)):
            for alert in rules.alerts_for(event):
                dispatcher.submit(alert)
        wait_until(lambda: len(smtp.messages) == 2, 10, message="two emails")
        assert dispatcher.stats()["sent"] == 2
    (failed_to, failed), (ok_to, ok) = sorted(smtp.messages, key=lambda m: "r9" not in str(m[1]))
    assert failed["Subject"] == f"[dataflow] prices: run {RunStatus.FAILED}"
    assert failed_to == ["desk@example.com"] and failed["From"] == "dataflow@example.com"
    body = failed.get_content()
    assert "r9" in body and "fetch: feed down" in body and "1 min 15 s" in body
    assert ok["Subject"] == f"[dataflow] prices: run {RunStatus.COMPLETED}" and ok_to == failed_to


def test_send_test_alert_reports_each_channel_redacted(slack, smtp, caplog):
    settings = AlertSettings(slack_webhook=slack.url, email=smtp.email)
    assert send_test_alert(settings) == {"slack": {"ok": True, "error": None},
                                         "email": {"ok": True, "error": None}}
    assert len(slack.posts) == 1 and len(smtp.messages) == 1
    assert smtp.messages[0][1]["Subject"] == "[dataflow] test alert"
    wrong = replace(smtp.email, password="wrong-" + PASSWORD)
    dead = f"http://127.0.0.1:{free_port()}/services/T000/B000/{TOKEN}"
    results = send_test_alert(AlertSettings(slack_webhook=dead, email=wrong))
    assert not results["slack"]["ok"] and not results["email"]["ok"]
    assert "SMTPAuthenticationError" in results["email"]["error"]
    assert TOKEN not in str(results) and PASSWORD not in str(results) + caplog.text
    assert send_test_alert(AlertSettings()) == {}


def test_absence_rules_raise_once_until_cleared():
    now = datetime(2024, 5, 2, 12, tzinfo=UTC)
    last = {"a": datetime(2024, 5, 1, 6, tzinfo=UTC), "b": datetime(2024, 5, 2, 11), "c": None}
    max_age = {"a": timedelta(hours=24), "b": timedelta(hours=2), "c": timedelta(hours=1)}
    rules = AlertRules(AlertSettings())
    stale = rules.stale(last, max_age, now)
    assert [(a.level, a.pipeline) for a in stale] == [("ABSENCE", "a"), ("ABSENCE", "c")]
    assert "1 d 6 h ago" in stale[0].text and "no successful run" in stale[1].text
    assert rules.stale(last, max_age, now + timedelta(minutes=5)) == []
    recovered = {**last, "a": now}
    assert rules.stale(recovered, max_age, now) == []
    assert [a.pipeline for a in rules.stale(last, max_age, now)] == ["a"]
    running = [{"run_id": "r1", "pipeline": "a", "started": "2024-05-02T09:00:00+00:00"},
               {"run_id": "r2", "pipeline": "a", "started": datetime(2024, 5, 2, 11, 30)},
               {"run_id": "r3", "pipeline": "b", "started": datetime(2024, 5, 1, tzinfo=UTC)}]
    overdue = rules.overdue(running, {"a": timedelta(hours=1)}, now)
    assert [(a.level, a.run_id) for a in overdue] == [("OVERDUE", "r1")]
    assert "3 h" in overdue[0].title and "at most 1 h" in overdue[0].text
    later = rules.overdue(running, {"a": timedelta(hours=1)}, now + timedelta(hours=1))
    assert [a.run_id for a in later] == ["r2"]      # r1 was raised already
