"""Bad input is refused with a message naming the file, key or id and saying what to do,
with nothing written (issue items 5, 11, 12). Items 13 and 14, and the environment's
exit codes: test_input_faults_env.py."""
from __future__ import annotations

import json
import pickle

import pytest
from conftest import RUN_TIMEOUT, ok, plugin_source, refused
from pymongo import MongoClient

CHAIN = "pipelines:\n  etl:\n    hooks: [load, check]\n"
CHECK = """tally()
if not os.path.exists(os.path.join(OUT, "fixed")):
    raise RuntimeError("not yet")
"""


def runs_recorded(cli, project) -> list:
    return json.loads(ok(cli("runs", "--json", project=project)).stdout)


@pytest.fixture
def failed_chain(make_project, engine_for, out_dir):
    """A failed run of etl: loader completed (checkpointed), checker (fail-hard) failed."""
    project = make_project(CHAIN, {
        "loader": plugin_source("loader", "load", body="tally()\nreturn {'x': 1}", out=out_dir),
        "checker": plugin_source("checker", "check", body=CHECK, out=out_dir, FAIL_HARD=True)})
    engine = engine_for(project)
    failed = engine.run("etl", timeout=RUN_TIMEOUT)
    engine.project.recorder.flush()
    assert failed.status == "failed", failed.tasks
    return project, failed.run_id


# --- item 5: a corrupt checkpoint, an unwritable logs/, a non-UTF-8 YAML byte -------------

def test_a_corrupt_checkpoint_is_named_treated_as_missing_and_rerun(failed_chain, cli, out_dir):
    project, run_id = failed_chain
    checkpoint = project / ".dataflow" / "checkpoints" / run_id / "load.loader.pkl"
    assert checkpoint.exists()
    checkpoint.write_bytes(b"Igarbage\n.")       # pickle: "invalid literal for int()"
    out_dir.touch("fixed")
    resumed = ok(cli("resume", run_id[:12], project=project))
    assert out_dir.count("loader") == 2, "the task ran again instead of failing"
    assert "invalid literal" not in resumed.stdout.split("details:")[-1]
    new_id = runs_recorded(cli, project)[0]["_id"]
    logs = ok(cli("logs", new_id[:12], project=project)).stdout
    assert str(checkpoint) in logs and "corrupt" in logs and "runs again" in logs


def test_an_unwritable_logs_folder_is_warned_about_once(make_project, cli, out_dir):
    noisy = "for n in range(5):\n    context['services']['log'].info('record %d' % n)"
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"noisy": plugin_source("noisy", "load", body=noisy)},
                           system="logging:\n  directory: logs\n")
    (project / "logs").write_text("a file where the folder should be")
    result = ok(cli("run", "p", "--local", project=project))
    assert result.stderr.count("cannot write the run's log file") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "logging.directory" in result.stderr and "logs" in result.stderr


def test_a_non_utf8_byte_in_yaml_names_the_file_and_line(make_project, cli):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"a": plugin_source("a", "load")})
    (project / "config" / "pipelines.yaml").write_bytes(
        b"pipelines:\n  p:\n    description: caf\xe9\n    hooks: [load]\n")
    refused(cli("run", "p", project=project), "config/pipelines.yaml:3", "not UTF-8",
            "save the file as UTF-8")
    validated = cli("validate", project=project)
    assert validated.returncode == 1 and "config/pipelines.yaml:3" in validated.stdout
    assert runs_recorded(cli, project) == []


# --- item 11: hooks listed twice, run by no plugin, declared but unused -------------------

def test_a_hook_listed_twice_is_a_validation_error(make_project, cli, out_dir):
    project = make_project("pipelines:\n  p:\n    hooks: [load, load]\n",
                           {"a": plugin_source("a", "load", body="tally()", out=out_dir)})
    validated = cli("validate", project=project)
    assert validated.returncode == 1
    assert "config/pipelines.yaml:3 [pipelines.p.hooks]" in validated.stdout
    assert "lists hook 'load' 2 times" in validated.stdout and "list each hook once" in \
        validated.stdout
    refused(cli("run", "p", "--local", project=project), "lists hook 'load' 2 times")
    assert "Cycle" not in validated.stdout and out_dir.count("a") == 0
    assert runs_recorded(cli, project) == []


def test_an_unserved_hook_is_an_error_with_did_you_mean(make_project, cli, out_dir):
    project = make_project(
        "pipelines:\n  p:\n    hooks: [load, calculate_indicator]\n",
        {"a": plugin_source("a", "load", body="tally()", out=out_dir),
         "ind": plugin_source("ind", "calculate_indicators", body="tally()", out=out_dir)})
    validated = cli("validate", project=project)
    assert validated.returncode == 1, validated.stdout
    expected = ("hook 'calculate_indicator' of pipeline 'p' is run by no plugin "
                "(did you mean 'calculate_indicators'?)")
    assert expected in validated.stdout and "[pipelines.p.hooks]" in validated.stdout
    assert "correct the hook's name" in validated.stdout
    refused(cli("run", "p", "--local", project=project), expected)
    assert out_dir.count("a") == 0 and runs_recorded(cli, project) == []


def test_a_plugin_hook_no_pipeline_uses_is_a_warning(make_project, cli):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"a": plugin_source("a", ["load", "extra"])})
    validated = ok(cli("validate", project=project))
    assert "warning: plugins/a/__init__.py [HOOKS]" in validated.stdout
    assert "declares hook 'extra', but no pipeline runs it" in validated.stdout
    assert "remove it from HOOKS" in validated.stdout and "1 warning" in validated.stdout


# --- item 12: paths derived from ids and settings stay inside the project -----------------

def test_a_plugin_id_that_is_a_path_is_refused(make_project, cli, tmp_path):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"pwned": plugin_source("../../../../elsewhere/pwned", "load")})
    validated = cli("validate", project=project)
    assert validated.returncode == 1
    assert "plugins/pwned/__init__.py" in validated.stdout
    assert "PLUGIN_NAME '../../../../elsewhere/pwned' may only use" in validated.stdout
    assert "rename it" in validated.stdout
    refused(cli("run", "p", "--local", project=project), "plugins/pwned/__init__.py")
    assert not any(tmp_path.parent.rglob("elsewhere")) and not (project / ".dataflow" /
                                                                 "checkpoints").exists()
    assert runs_recorded(cli, project) == []


def test_a_log_directory_outside_the_project_is_refused(make_project, cli, tmp_path):
    project = make_project("pipelines:\n  p:\n    hooks: [load]\n",
                           {"a": plugin_source("a", "load")},
                           system="logging:\n  directory: ../elsewhere\n")
    refused(cli("run", "p", "--local", project=project), "config/system.yaml:2",
            "[logging.directory]", "'../elsewhere' is outside the project",
            "use a folder inside the project")
    assert cli("validate", project=project).returncode == 1
    assert not (tmp_path / "elsewhere").exists() and runs_recorded(cli, project) == []


class _Opens:
    """Unpickling it creates a file: proof that a checkpoint was read."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_resume_reads_checkpoints_only_from_the_project(failed_chain, cli, store_env,
                                                        tmp_path):
    project, run_id = failed_chain
    evil, marker = tmp_path / "evil.pkl", tmp_path / "unpickled"
    evil.write_bytes(pickle.dumps(_Opens(marker)))
    with MongoClient(store_env["DATAFLOW_MONGO_URI"]) as client:
        client[store_env["DATAFLOW_MONGO_DB"]]["tasks"].update_one(
            {"run_id": run_id, "plugin": "loader"}, {"$set": {"checkpoint.path": str(evil)}})
    refused(cli("resume", run_id[:12], project=project), f"run {run_id}",
            "tasks.load.loader.checkpoint", str(evil), "outside the project's checkpoint",
            "dataflow run etl")
    assert not marker.exists()
    assert len(runs_recorded(cli, project)) == 1, "no resumed run was recorded"
