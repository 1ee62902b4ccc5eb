"""A `dataflow run`'s own workers start warm (cluster/worker_server.py): forked from a
server started before the plugins were imported, with Dask and the data libraries the
project's plugins import already loaded, and with the environment Dask gives a worker."""
from __future__ import annotations

import json

# Records, on the worker, what was loaded before this plugin's own imports ran.
PROBE = '''import json, os, sys
LOADED_FIRST = sorted(m for m in ("pandas", "dask.dataframe", "pyarrow", "distributed")
                      if m in sys.modules)
{imports}
PLUGIN_NAME, HOOKS = "probe", ["look"]
def run(context, config):
    facts = {{"loaded_first": LOADED_FIRST, "pid": os.getpid(),
             "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
             "omp_threads": os.environ.get("OMP_NUM_THREADS")}}
    with open(config["out"], "w") as handle:
        json.dump(facts, handle)
    return facts["pid"]
'''


def _probe_run(make_project, cli, tmp_path, imports: str) -> dict:
    out = tmp_path / "facts.json"
    pipelines = "pipelines: {seen: {hooks: [look]}}\nplugin_config: {probe: {out: '%s'}}\n"
    root = make_project(pipelines % out, {"probe": PROBE.format(imports=imports)})
    result = cli("run", "seen", project=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def test_workers_start_with_the_data_libraries_the_plugins_import(make_project, cli,
                                                                   tmp_path):
    facts = _probe_run(make_project, cli, tmp_path, "import dask.dataframe as dd")
    assert facts["loaded_first"] == ["dask.dataframe", "distributed", "pandas", "pyarrow"], \
        "imported by the worker server before the plugin asked"
    assert facts["malloc_trim"] == "65536" and facts["omp_threads"] == "1", \
        "Dask's worker environment (distributed.nanny.pre-spawn-environ) holds"


def test_plugins_without_data_libraries_get_lean_workers(make_project, cli, tmp_path):
    facts = _probe_run(make_project, cli, tmp_path, "")
    assert facts["loaded_first"] == ["distributed"], "nothing a plugin does not import"
