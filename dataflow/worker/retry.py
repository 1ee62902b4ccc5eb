"""Retry policy for plugin tasks: central (system.yaml `retry:`), opt-in per plugin (RETRY).

    RETRY = {"max_retries": 3, "delay": 1.0, "backoff": 2.0, "max_delay": 60.0,
             "jitter": 0.1, "retry_on": ["ConnectionError", "TimeoutError"]}

The wait before retry n (1-based) is min(max_delay, delay × backoff^(n-1)), then
spread by ±jitter (a fraction). `retry_on` lists exception class names (the class
or any base class matches); null retries any Exception. A cancel, a fatal log or
an invalid output are never retried. `worker_death_retries` (default 1) is how often a
plugin whose worker died under it runs again (worker/deaths.py).
"""
from __future__ import annotations

import random
from dataclasses import dataclass



@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.0
    retry_on: tuple[str, ...] | None = None
    worker_death_retries: int = 1      # runs again after its worker died (worker/deaths.py)

    @classmethod
    def from_layers(cls, central: dict, plugin: dict | None) -> "RetryPolicy":
        values = {**(central or {}), **(plugin or {})}
        if values.get("retry_on") is not None:
            values["retry_on"] = tuple(values["retry_on"])
        return cls(**values)

    def wait_before(self, retry_number: int) -> float:
        base = min(self.max_delay, self.delay * self.backoff ** (retry_number - 1))
        spread = base * self.jitter
        return max(0.0, base + random.uniform(-spread, spread))

    def allows(self, error: BaseException, attempts_made: int) -> bool:
        if attempts_made > self.max_retries or not isinstance(error, Exception):
            return False
        if self.retry_on is None:
            return True
        names = {klass.__name__ for klass in type(error).__mro__}
        return bool(names & set(self.retry_on))

