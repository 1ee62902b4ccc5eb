"""The `run` of every command plugin (plugins/command_plugin.py): its config is its spec.

Pre-checks, then the command in a shell of its own process group (start_new_session),
its stdout and stderr streamed line by line into the run's log, its exit code deciding
success (a code in retry_on_exit_codes raises ChildProcessError, which its RETRY
retries), then post-checks. Timeout (the task ends `timed_out`: attempts.py) and cancel
kill the whole process group: SIGTERM, then SIGKILL after KILL_GRACE seconds. Secret
values never reach a log record.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from dataflow.errors import PluginFailed
from dataflow.statuses import TaskStatus
from dataflow.worker.command_env import interpolate, redact, resolved_env, secret_values, shown_env

KILL_GRACE = 5.0        # seconds between SIGTERM and SIGKILL
POLL = 0.05             # how often the cancel flag and the timeout are checked
CHECK_TIMEOUT = 300.0   # a check command's limit when the command has no timeout
READER_JOIN = 5.0


class _Job:
    """One command run: its process, environment, secrets and log."""

    def __init__(self, context: Any, config: dict):
        self.context, self.log = context, context["services"]["log"]
        self.env = resolved_env(config.get("env") or {})
        self.full_env = {**os.environ, **self.env}
        self.secrets = secret_values(self.env)
        project_dir = Path(context._env.project_dir)      # the run's project folder
        self.cwd = (project_dir / self.text(config.get("cwd") or ".")).resolve()
        self.timeout = config.get("timeout")
        self.counts = {"stdout": 0, "stderr": 0}

    def text(self, template: str) -> str:
        return interpolate(template, self.env, self.full_env)

    def shown(self, text: str) -> str:
        return redact(text, self.secrets)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM to the command's process group, SIGKILL to what is left after KILL_GRACE."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        process.wait(KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)     # stragglers too (children of the shell)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _pump(job: _Job, stream: IO[str], name: str) -> None:
    for line in stream:
        job.counts[name] += 1
        job.log.record("INFO", job.shown(line.rstrip("\r\n")), {"stream": name})


def _wait(job: _Job, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + job.timeout if job.timeout else None
    while process.poll() is None:
        if job.context.cancelled():
            _kill_group(process)
            raise PluginFailed("cancelled: the command's process group was killed")
        if deadline is not None and time.monotonic() > deadline:
            _kill_group(process)
            error = PluginFailed(f"command timed out after {job.timeout}s; its process "
                                 "group was killed")
            setattr(error, "task_status", TaskStatus.TIMED_OUT)   # as past a DEADLINE
            raise error
        time.sleep(POLL)
    return process.returncode


def _run(job: _Job, command: str) -> int:
    process = subprocess.Popen(command, shell=True, cwd=job.cwd, env=job.full_env, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True, bufsize=1,
                               errors="replace")
    readers = [threading.Thread(target=_pump, args=(job, stream, name), daemon=True,
                                name=f"command-{name}")
               for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))]
    for reader in readers:
        reader.start()
    try:
        code = _wait(job, process)
    finally:
        if process.poll() is None or _group_alive(process.pid):
            _kill_group(process)    # stopped hard, or children the shell left running
        for reader in readers:
            reader.join(READER_JOIN)
    return code


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _check_problem(job: _Job, check: dict) -> str | None:
    if "file_exists" in check:
        path = job.cwd / job.text(check["file_exists"])
        return None if path.exists() else f"file {job.shown(str(path))} does not exist"
    command = job.text(check["command"])
    try:
        result = subprocess.run(command, shell=True, cwd=job.cwd, env=job.full_env, text=True,
                                capture_output=True, timeout=job.timeout or CHECK_TIMEOUT,
                                stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired:
        return f"command `{job.shown(command)}` did not end in time"
    if result.returncode == 0:
        return None
    last = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
    return f"command `{job.shown(command)}` exited with {result.returncode} {job.shown(last[0])}"


def _run_checks(job: _Job, when: str, checks: list[dict]) -> None:
    for check in checks:
        problem = _check_problem(job, check)
        if problem:
            raise PluginFailed(f"{when}-check failed: {problem.strip()}")


def run(context: Any, config: dict) -> dict:
    """Run the command plugin described by `config` (its spec, env layered)."""
    job = _Job(context, config)
    command = job.text(config["command"])
    _run_checks(job, "pre", config.get("pre_checks") or [])
    job.log.info(f"running: {job.shown(command)}", cwd=str(job.cwd), env=", ".join(
        f"{key}={value}" for key, value in shown_env(job.env, job.secrets).items()))
    started = time.monotonic()
    code = _run(job, command)
    if code != 0:
        retry = code in (config.get("retry_on_exit_codes") or [])
        error = ChildProcessError if retry else PluginFailed
        raise error(f"command exited with code {code}" + (" (retry_on_exit_codes)" if retry
                                                          else ""))
    _run_checks(job, "post", config.get("post_checks") or [])
    return {"exit_code": code, "seconds": round(time.monotonic() - started, 3),
            "lines": dict(job.counts), "command": job.shown(command)}
