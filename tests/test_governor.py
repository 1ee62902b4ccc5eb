"""The CPU governor and the resource monitor under a CPU-bound fan-out: dataflow backs off
while another program takes the CPU and comes back when it is gone; the monitor reports
CPU, memory, workers and jobs."""
from __future__ import annotations

import subprocess
import sys

from conftest import RUN_TIMEOUT, plugin_source, wait_until

PIPELINES = "pipelines:\n  burn:\n    hooks: [spin]\n"

# Fans out 6 jobs that spin (pure-Python CPU work) until the test releases them.
SPIN = """
def spin(index):
    loops, deadline = 0, time.time() + 300
    while not released() and time.time() < deadline:
        for _ in range(20000):
            loops += 1
    return loops
"""


def spinner(name: str, out_dir) -> str:
    """The spinning plugin (a name per test: job functions are found on the workers by
    module name)."""
    return plugin_source(name, "spin", code=SPIN, out=out_dir, body="""
        jobs = context["services"]["jobs"]
        return sum(jobs.gather(jobs.map(spin, range(6), name="spin")))""")


HOG = "while True:\n    pass\n"      # another program on the machine, one core's worth each
MONITOR_KEYS = {"cpu_percent", "memory_percent", "workers", "jobs_queued", "jobs_running"}


def stop_all(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_governor_backs_off_while_other_programs_spin_and_recovers(make_project, engine_for,
                                                                  dask_client, out_dir):
    project = make_project(PIPELINES, {"gov_burner": spinner("gov_burner", out_dir)})
    engine = engine_for(project, govern=True)
    handle = engine.start("burn")
    governor, hogs = engine.resources.governor, []
    try:
        wait_until(lambda: governor.stats()["governed_workers"] == 2, 10,
                   message="the governor to find both local workers")
        alone = wait_until(lambda: governor.stats()["duty"] < 0.95 and governor.stats(), 15,
                           message="the fan-out alone to be held near the CPU target")
        hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
        backed_off = wait_until(lambda: governor.stats()["duty"] <= 0.2 and governor.stats(), 20,
                                message="dataflow to back off while other processes spin")
        stop_all(hogs)
        floor = backed_off["duty"] + 0.15      # relative: other sessions may load the machine too
        recovered = wait_until(lambda: governor.stats()["duty"] >= floor and governor.stats(), 20,
                               message="dataflow to come back once the other processes are gone")
    finally:
        out_dir.release()
        stop_all(hogs)
    result = engine.wait(handle, timeout=60)
    assert result.status == "completed", result.error
    assert result.output("gov_burner", timeout=RUN_TIMEOUT) > 0
    print(f"\ngovernor duty: fan-out alone {alone['duty']:.2f} (cpu {alone['cpu_measured']:.0%}), "
          f"with 2 busy processes {backed_off['duty']:.2f} (cpu {backed_off['cpu_measured']:.0%}),"
          f" after they are gone {recovered['duty']:.2f} (cpu {recovered['cpu_measured']:.0%})")


def test_monitor_reports_cpu_memory_workers_and_jobs(make_project, engine_for, out_dir):
    engine = engine_for(make_project(PIPELINES, {"gov_watched": spinner("gov_watched", out_dir)}))
    handle = engine.start("burn")
    try:
        busy = wait_until(lambda: (engine.resources.snapshot().get("jobs_running") or 0) >= 2
                          and engine.resources.snapshot().get("cpu_percent")
                          and engine.resources.snapshot(), 15, message="jobs in the snapshot")
    finally:
        out_dir.release()
    assert engine.wait(handle, timeout=60).status == "completed"
    assert MONITOR_KEYS <= set(busy), busy
    assert busy["workers"] == 2
    assert busy["jobs_running"] + busy["jobs_queued"] == 6, busy
    assert 0 < busy["cpu_percent"] <= 100 and 0 < busy["memory_percent"] <= 100
    idle = wait_until(lambda: engine.resources.snapshot().get("jobs_running") == 0
                      and engine.resources.snapshot(), 10, message="the jobs to leave")
    assert idle["jobs_queued"] == 0
