"""Resume through the API holds the resume lease, as `dataflow resume` does: of two
concurrent POST /api/runs/<id>/resume one starts, the other gets 409 naming the run being
resumed; the lease is given up when the resumed run ends; a run resumed before is refused
unless the body says `again: true`."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from conftest import wait_until
from test_web_api import RUN_WAIT, finished, refused, started
from web_fixtures import api  # noqa: F401 (a fixture)

from dataflow.statuses import RunStatus


def cancelled_slow_run(api) -> str:
    run_id = started(api, "slow")
    wait_until(lambda: api.out.read("slow", "started") == run_id, RUN_WAIT, 0.1, "slow")
    wait_until(lambda: api.post(f"/api/runs/{run_id}/cancel").status_code == 202, 30, 0.2)
    assert finished(api, run_id)["status"] == RunStatus.CANCELLED
    return run_id


def test_two_concurrent_api_resumes_start_one_run(api):
    old = cancelled_slow_run(api)
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: api.post(f"/api/runs/{old}/resume"), range(2)))
    codes = sorted(reply.status_code for reply in replies)
    assert codes == [202, 409], [reply.text for reply in replies]
    new = next(reply for reply in replies if reply.status_code == 202).json()["run_id"]
    loser = refused(next(reply for reply in replies if reply.status_code == 409), 409)
    # the loser names the run resuming it, or (when it asked in the instant between the
    # winner's claim and its run's start) the process holding the lease and its expiry
    assert old in loser["error"] and (new in loser["error"] or (
        "being resumed right now (by process" in loser["error"]
        and "lease to expire" in loser["error"])), loser
    wait_until(lambda: api.out.read("slow", "started") == new, RUN_WAIT, 0.1, "the resumed run")
    leases = api.project.db["resume_leases"]
    assert leases.find_one({"_id": old})["run_id"] == new, "held while the resumed run goes"
    while_going = refused(api.post(f"/api/runs/{old}/resume", {"again": True}), 409)
    assert f"being resumed right now as run {new}" in while_going["error"]
    api.out.touch("go")
    assert finished(api, new)["status"] == RunStatus.COMPLETED
    wait_until(lambda: leases.count_documents({"_id": old}) == 0, 30, 0.1, "lease given up")
    once_more = refused(api.post(f"/api/runs/{old}/resume"), 409)
    assert f"already resumed by run {new}" in once_more["error"]
    again = api.post(f"/api/runs/{old}/resume", {"again": True})
    assert again.status_code == 202, again.text
    assert finished(api, again.json()["run_id"])["status"] == RunStatus.COMPLETED
