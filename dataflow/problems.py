"""What is wrong with a project's input, located precisely enough to fix it, and the
"did you mean" hint every lookup by name gives (errors.py re-exports both)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for a mistyped name, else ''."""
    matches = get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project, located precisely enough to fix it."""

    file: str
    key: str
    message: str
    fix: str = ""
    line: int | None = None
    warning: bool = False           # reported, but does not stop a run or fail `validate`

    def location(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where} [{self.key}]" if self.key else where

    def __str__(self) -> str:
        text = ("warning: " if self.warning else "") + f"{self.location()}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text

    def as_dict(self) -> dict:
        return {"file": self.file, "key": self.key, "line": self.line,
                "message": self.message, "fix": self.fix, "warning": self.warning}
