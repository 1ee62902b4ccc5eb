"""`dataflow scheduler` on its own (a subprocess, no `serve`) alerts as `serve` does: a
failing `* * * * *` pipeline fired by it posts its ERROR to the local Slack test server
and mails its failure (aiosmtpd); a pipeline that never succeeded within max_data_age
gets an absence alert. On the real clock: one minute boundary (no clock option)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

from alert_fixtures import by_level, slack, slack_system, smtp  # noqa: F401
from conftest import plugin_source, wait_until
from pymongo import MongoClient

from dataflow.statuses import RunStatus

PIPELINES = textwrap.dedent("""
    pipelines:
      failing:
        hooks: [work]
        schedule: "* * * * *"
        alerts: {email: {on_failure: true}}
      forgotten: {hooks: [work], max_data_age: 1s}
""")


def test_dataflow_scheduler_alerts_on_slack_by_email_and_for_absence(slack, smtp, make_project,
                                                                     store_env):
    system = slack_system(slack.url) + textwrap.dedent(f"""\
          email: {{smtp_host: 127.0.0.1, smtp_port: {smtp.port}, from: dataflow@example.com,
                  to: [ops@example.com], starttls: false, on_failure: false}}
        cluster:
          n_workers: 1
    """)
    project = make_project(PIPELINES, {"work": plugin_source(
        "work", ["work"], body='raise RuntimeError("feed down")', FAIL_HARD=True)},
        system=system)
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    wait_until(lambda: datetime.now(timezone.utc).second < 40, 25, 0.2, "a minute's start")
    process = subprocess.Popen([sys.executable, "-m", "dataflow", "scheduler",
                                "--absence-every", "1"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    db = MongoClient(store_env["DATAFLOW_MONGO_URI"], tz_aware=True)[store_env["DATAFLOW_MONGO_DB"]]
    try:
        absent = wait_until(lambda: [p for p in slack.posts if "forgotten" in p["text"]],
                            60, 0.2, "the absence alert of `forgotten`")
        fire = wait_until(lambda: db["schedule_fires"].find_one({"run_id": {"$ne": None}}),
                          90, 0.2, "the first fire of * * * * *")
        wait_until(lambda: db["runs"].find_one({"_id": fire["run_id"],
                                                "status": RunStatus.FAILED}),
                   120, 0.2, "the scheduled run to fail")
        errors = wait_until(lambda: [p for p in by_level(slack.posts, "ERROR")
                                     if "feed down" in p["text"]], 60, 0.2, "the ERROR post")
        wait_until(lambda: smtp.messages, 60, 0.2, "the failure mail")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output = process.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
    assert process.returncode == 0, output
    assert "failing" in errors[0]["text"]
    assert "no successful run" in absent[0]["text"]
    recipients, message = smtp.messages[0]         # (one a minute, should it fire again)
    assert recipients == ["ops@example.com"]
    assert message["Subject"] == "[dataflow] failing: run failed"
    assert "feed down" in message.get_content()
