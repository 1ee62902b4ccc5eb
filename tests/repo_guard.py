"""A pytest plugin: the suite fails if any test wrote into the repository's own project.

Tests run their pipelines in temporary projects; a test that runs one in the repository
(as the notebook test once did) would leave run logs and checkpoints in the checkout.
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What the tests may never write into: the repository's own project (its run logs and
# checkpoints). Checked at the end of the session; the suite fails if anything appeared.
REPO_STATE = (REPO / "logs", REPO / ".dataflow" / "checkpoints")


def _repo_state_files() -> set[Path]:
    return {path for folder in REPO_STATE if folder.exists() for path in folder.rglob("*")}


def pytest_sessionstart(session):
    session.config.repo_state_before = _repo_state_files()


def pytest_sessionfinish(session, exitstatus):
    written = sorted(_repo_state_files() - getattr(session.config, "repo_state_before", set()))
    if written:
        shown = ", ".join(str(path.relative_to(REPO)) for path in written[:5])
        session.config.get_terminal_writer().line(
            f"the tests wrote into the repository's own project: {shown}", red=True)
        session.exitstatus = 1
