"""The Dask dashboard of a `dataflow run`'s own cluster: started when the user can find it
(`--verbose` prints its address; a fixed port in system.yaml), not on a random port
nobody is told about (it costs ~0.45 s of every start)."""
from __future__ import annotations

import json

import pytest
from conftest import plugin_source
from servers import free_port

# Asks the scheduler's HTTP server (Dask's /health, /metrics and, if started, the
# dashboard) for the dashboard's page; writes {"port": ..., "status": HTTP status}.
PROBE = plugin_source("probe", "look", ["seen"], """
port = distributed.get_client().scheduler_info()["services"]["dashboard"]
status = requests.get(f"http://127.0.0.1:{port}/status", timeout=10).status_code
with open(config["out"], "w") as handle:
    json.dump({"port": port, "status": status}, handle)
return status
""", imports=("json", "distributed", "requests"))


@pytest.fixture
def probe_project(make_project, tmp_path):
    def build(system: str = ""):
        out = tmp_path / "services.json"
        root = make_project(f"""
            pipelines:
              seen:
                hooks: [look]
            plugin_config:
              probe: {{out: '{out}'}}
            """, {"probe": PROBE}, system)
        return root, out
    return build


def test_a_quiet_run_starts_no_dashboard_on_a_random_port(probe_project, cli):
    root, out = probe_project()
    result = cli("run", "seen", project=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(out.read_text())["status"] == 404, "no dashboard nobody could find"
    assert "Dask dashboard" not in result.stdout


def test_verbose_starts_the_dashboard_and_prints_where(probe_project, cli):
    root, out = probe_project()
    result = cli("run", "seen", "--verbose", project=root)
    assert result.returncode == 0, result.stdout + result.stderr
    probed = json.loads(out.read_text())
    assert probed["status"] == 200
    assert f"Dask dashboard: http://127.0.0.1:{probed['port']}/status" in result.stdout


def test_a_fixed_port_in_system_yaml_always_starts_it_there(probe_project, cli):
    port = free_port()
    root, out = probe_project(f"cluster:\n  dashboard_address: '127.0.0.1:{port}'\n")
    result = cli("run", "seen", project=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(out.read_text()) == {"port": port, "status": 200}
