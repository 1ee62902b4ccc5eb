"""What every page and every API route of the server is built from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataflow.project import Project
    from dataflow.run.service import RunService

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class WebContext:
    """The server's shared state: the run service (engine, project) and how it is bound.

    `token` is the admin token; it is required (UI login, API Bearer) whenever the
    server is bound to anything but loopback. It is never shown or returned.
    """

    service: RunService
    address: str = "127.0.0.1"
    port: int = 5006
    token: str | None = field(default=None, repr=False)
    dask_dashboard: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)   # the scheduler loop, metrics, ...

    @property
    def project(self) -> Project:
        return self.service.project

    @property
    def requires_token(self) -> bool:
        return self.address not in LOOPBACK

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.address in ("0.0.0.0", "::") else self.address
        return f"http://{host}:{self.port}"
