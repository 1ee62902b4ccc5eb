"""The claim a resume holds on the run it resumes: the store's resume lease, renewed on a
thread while the resumed run goes on, given up when it ends (store/resume_lease.py)."""
from __future__ import annotations

import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

from dataflow.background import BackgroundThread, periodic
from dataflow.run.resume import refuse_if_resumed
from dataflow.store.resume_lease import (lease_started, release_resume_lease,
                                         renew_resume_lease, resumed_by, take_resume_lease)

if TYPE_CHECKING:
    from pymongo.database import Database

LEASE_TTL = 60.0       # seconds a lease lasts without renewal (a killed resume's lease)
RENEW_EVERY = 15.0


class ResumeClaim:
    """`with ResumeClaim(db, old_run, again) as claim:` start the resumed run, then
    `claim.started(new_run_id)`. Refuses (NotResumable) while another process resumes
    the run, and when it was resumed since `old_run` was read, unless
    `again`."""

    def __init__(self, db: Database[Any], old_run: dict, again: bool = False,
                 ttl: float = LEASE_TTL):
        self.db, self.run_id, self.again, self.ttl = db, old_run["_id"], again, ttl
        self.seen_resumed_by = old_run.get("resumed_by")
        self.token = uuid.uuid4().hex
        self._renewer: BackgroundThread | None = None

    def __enter__(self) -> ResumeClaim:
        take_resume_lease(self.db, self.run_id, {"token": self.token, "pid": os.getpid(),
                                                 "host": socket.gethostname()}, self.ttl)
        now = resumed_by(self.db, self.run_id)
        if now != self.seen_resumed_by:        # resumed by another process meanwhile
            release_resume_lease(self.db, self.run_id, self.token)
            refuse_if_resumed(self.run_id, now, self.again)
        self._renewer = periodic("dataflow-resume-lease", min(RENEW_EVERY, self.ttl / 3),
                                 self._renew).start()
        return self

    def _renew(self) -> None:
        renew_resume_lease(self.db, self.run_id, self.token, self.ttl)

    def started(self, new_run_id: str) -> None:
        lease_started(self.db, self.run_id, self.token, new_run_id)

    def __exit__(self, *exc: object) -> None:
        if self._renewer is not None:
            self._renewer.stop()
        release_resume_lease(self.db, self.run_id, self.token)
