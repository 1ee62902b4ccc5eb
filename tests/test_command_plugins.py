"""Command plugins (spec 001, config/commands.yaml): env layers and ${VAR} interpolation,
exit codes and retries, pre/post checks, streamed output, timeout and cancel killing the
whole process group, secrets never logged — real runs on the shared LocalCluster."""
from __future__ import annotations

import os
import textwrap

import pytest
from conftest import RUN_TIMEOUT, wait_until

from dataflow.plugins.command_plugin import parse_env
from dataflow.plugins.registry import PluginRegistry
from dataflow.errors import InvalidInput
from dataflow.store.logs import read_logs

PIPELINES = """
pipelines:
  p:
    hooks: [export]
    env: {LEVEL: pipeline, WHO: pipeline}
"""


def project_with(make_project, tmp_path, commands: str, system: str = "") -> tuple:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    system = f"env:\n  DATA_ROOT: {data}\n  LEVEL: global\n  WHO: global\n  ONLY_GLOBAL: g\n" \
        + system
    project = make_project(PIPELINES, system=system)
    (project / "config" / "commands.yaml").write_text(textwrap.dedent(commands))
    return project, data


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:        # a zombie child of a worker counts as gone
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


LAYERED = """
commands:
  export_csv:
    hooks: [export]
    pipelines: [p]
    tags: [shell]
    command: >-
      echo "level=$LEVEL who=$WHO global=$ONLY_GLOBAL" > ${OUT_DIR}/env.txt &&
      echo "line one" && echo "line two" && echo "oops" >&2
    env: {OUT_DIR: "${DATA_ROOT}/out", WHO: command}
    cwd: "."
    timeout: 60
    pre_checks: [{command: "mkdir -p ${OUT_DIR}"}, {file_exists: "${DATA_ROOT}"}]
    post_checks: [{file_exists: "${OUT_DIR}/env.txt"}]
"""


def test_env_layers_checks_and_streamed_output(make_project, tmp_path, engine_for, cli):
    project, data = project_with(make_project, tmp_path, LAYERED)
    engine = engine_for(project)
    assert engine.project.registry.get("export_csv").tags == ("shell",)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed", result.tasks
    assert (data / "out" / "env.txt").read_text().strip() == "level=pipeline who=command global=g"
    output = result.output("export_csv", timeout=RUN_TIMEOUT)
    assert output["exit_code"] == 0 and output["lines"] == {"stdout": 2, "stderr": 1}
    engine.project.recorder.flush()
    logs = read_logs(engine.project.db, result.run_id, plugin="export_csv")
    lines = [(r["message"], r["fields"].get("stream")) for r in logs]
    assert ("line one", "stdout") in lines and ("oops", "stderr") in lines
    assert lines.index(("line one", "stdout")) < lines.index(("line two", "stdout"))
    ran = cli("run", "p", "--local", "--env", "WHO=cli", "--env", "LEVEL=${WHO}-too",
              project=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (data / "out" / "env.txt").read_text().strip() == "level=cli-too who=cli global=g"


def test_exit_codes_decide_and_retry_codes_retry(make_project, tmp_path, engine_for):
    project, data = project_with(make_project, tmp_path, """
        commands:
          flaky:
            hooks: [export]
            command: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 2 ] || exit 75'
            cwd: "${DATA_ROOT}"
            retry_on_exit_codes: [75]
            max_retries: 3
            retry_delay: 0
          broken:
            hooks: [export]
            command: "exit 3"
            retry_on_exit_codes: [75]
            retry_delay: 0
    """)
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed_with_errors"
    assert result.tasks["export.flaky"]["status"] == "completed"
    assert (data / "count").read_text().strip() == "2"
    broken = result.tasks["export.broken"]
    assert broken["status"] == "failed" and "command exited with code 3" in broken["error"]
    assert len(broken.get("attempts", [])) == 1, "exit 3 is not a retry code"


def test_a_failed_pre_check_runs_nothing(make_project, tmp_path, engine_for):
    project, data = project_with(make_project, tmp_path, """
        commands:
          guarded:
            hooks: [export]
            command: "touch ran"
            cwd: "${DATA_ROOT}"
            fail_hard: true
            pre_checks: [{file_exists: "data/in.csv"}]
    """)
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    assert result.status == "failed"
    error = result.tasks["export.guarded"]["error"]
    assert "pre-check failed: file" in error and "data/in.csv does not exist" in error
    assert not (data / "ran").exists()


SLEEPER = """
commands:
  sleeper:
    hooks: [export]
    command: 'sleep 300 & echo $! > child.pid; echo started; wait'
    cwd: "${DATA_ROOT}"
    timeout: TIMEOUT
"""


AFTER_SLEEPER = """
  after:
    hooks: [export]
    command: 'echo after > after.txt'
    cwd: "${DATA_ROOT}"
"""


def test_timeout_kills_the_process_group_and_ends_timed_out(make_project, tmp_path, engine_for):
    project, data = project_with(make_project, tmp_path, SLEEPER.replace("TIMEOUT", "2"))
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    task = result.tasks["export.sleeper"]
    assert task["status"] == "timed_out" and "command timed out after 2s" in task["error"]
    assert result.status == "completed_with_errors"      # not fail-hard: the run goes on
    pid = int((data / "child.pid").read_text())
    wait_until(lambda: not alive(pid), 30, message="the command's child to be killed")


def test_a_fail_hard_command_timing_out_stops_the_pipeline(make_project, tmp_path, engine_for):
    commands = SLEEPER.replace("TIMEOUT", "2") + "    fail_hard: true\n" + AFTER_SLEEPER
    project, data = project_with(make_project, tmp_path, commands)
    (project / "config" / "pipelines.yaml").write_text(PIPELINES.replace(
        "hooks: [export]", "hooks: [export, publish]"))
    (project / "config" / "commands.yaml").write_text(textwrap.dedent(commands).replace(
        "after:\n    hooks: [export]", "after:\n    hooks: [publish]"))
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    assert result.tasks["export.sleeper"]["status"] == "timed_out"
    assert result.tasks["publish.after"]["status"] == "skipped"
    assert result.status == "failed" and not (data / "after.txt").exists()


def test_cancel_kills_the_process_group(make_project, tmp_path, engine_for):
    project, data = project_with(make_project, tmp_path, SLEEPER.replace("TIMEOUT", "600"))
    engine = engine_for(project)
    handle = engine.start("p")
    pid_file = data / "child.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 60,
               message="the command to start")
    pid = int(pid_file.read_text())
    engine.cancel(handle.run_id)
    result = engine.wait(handle, timeout=RUN_TIMEOUT)
    assert result.status == "cancelled"
    assert result.tasks["export.sleeper"]["status"] == "cancelled"
    wait_until(lambda: not alive(pid), 30, message="the command's child to be killed")


def test_secrets_are_masked_in_every_log_record(make_project, tmp_path, engine_for,
                                                dask_client):
    # the workers' environment, where ${VAR} resolves (lambdas travel by value)
    dask_client.run(lambda: os.environ.update(DF_TEST_SECRET="s3cr3t-value-42"))
    project, _ = project_with(make_project, tmp_path, """
        commands:
          talker:
            hooks: [export]
            command: 'echo "token is $API_TOKEN" && curl_like --token ${API_TOKEN} || true'
            env: {API_TOKEN: "${DF_TEST_SECRET}"}
    """)
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed", result.tasks["export.talker"]["error"]
    engine.project.recorder.flush()
    logs = read_logs(engine.project.db, result.run_id)
    text = repr(logs) + repr(result.tasks)
    assert "s3cr3t-value-42" not in text
    assert any(r["message"] == "token is ***" for r in logs)
    assert any("--token ***" in r["message"] and "API_TOKEN=***" in r["fields"]["env"]
               for r in logs if r["message"].startswith("running:"))


@pytest.mark.fast
def test_literal_secrets_and_bad_declarations_are_refused(make_project, tmp_path):
    project, _ = project_with(make_project, tmp_path, """
        commands:
          typo:
            hooks: [export]
            comand: "true"
    """)
    messages = [str(p) for p in PluginRegistry(project, entry_points=False).problems]
    assert any("unknown key 'comand'" in m and "config/commands.yaml" in m for m in messages)
    (project / "config" / "commands.yaml").write_text(textwrap.dedent("""
        commands:
          leaky:
            hooks: [export]
            command: "true"
            env: {SLACK_WEBHOOK: "https://hooks.example/abc"}
    """))
    registry = PluginRegistry(project, entry_points=False)
    assert "leaky" not in registry.plugins
    assert "env key 'SLACK_WEBHOOK' looks secret" in registry.problems[0].message
    with pytest.raises(InvalidInput, match="looks secret"):
        parse_env(("DB_PASSWORD=hunter2",))
    assert parse_env(("DB_PASSWORD=${DB_PASSWORD}", "A=1=2")) == {
        "DB_PASSWORD": "${DB_PASSWORD}", "A": "1=2"}
    with pytest.raises(InvalidInput, match="not KEY=VALUE"):
        parse_env(("no-equals",))
