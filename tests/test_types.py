"""mypy runs clean on the package, and the lightweight CLI commands stay free of Dask."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.timeout(600)
def test_mypy_is_clean():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", ["inspect_cmds", "cancel_cmd", "config_cmds",
                                     "pipeline_cmds", "db_cmds", "logs_cmd"])
def test_lightweight_cli_commands_do_not_import_dask(command):
    code = (f"import sys, dataflow.cli.main, dataflow.cli.{command}; "
            "print(sorted(m for m in ('distributed', 'dask', 'pandas', 'panel') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
