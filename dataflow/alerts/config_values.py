"""Typed values read out of one YAML mapping, each wrong one turned into a Problem.

Reading alert settings must report every mistake at once (like the rest of config
validation) and still give usable settings, so a bad value becomes a Problem and its
default. Values are never quoted back: some of them are secrets.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from dataflow.errors import Problem


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Section:
    """One mapping at `path` (e.g. "alerts.email") of `file`; problems go to `problems`."""

    def __init__(self, data, path: str, file: str, problems: list[Problem],
                 allowed: Iterable[str] = (), unknown_fix: str = ""):
        self.path, self.file, self.problems = path, file, problems
        self.data: Mapping = data if isinstance(data, Mapping) else {}
        if data is not None and not isinstance(data, Mapping):
            self.problems.append(Problem(file, path, "must be a mapping of keys to values",
                                         f"write `{path.rsplit('.', 1)[-1]}:` with keys under it"))
        allowed = set(allowed)
        for key in self.data:
            if allowed and key not in allowed:
                self.problem(key, "is not a known key",
                             unknown_fix or "known keys: " + ", ".join(sorted(allowed)))

    def key(self, key: str) -> str:
        return f"{self.path}.{key}"

    def problem(self, key: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(self.file, self.key(key), message, fix))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def sub(self, key: str, allowed: Iterable[str], unknown_fix: str = "") -> Section:
        return Section(self.data.get(key), self.key(key), self.file, self.problems, allowed,
                       unknown_fix)

    def number(self, key: str, default: float, minimum: float = 0.0,
               positive: bool = False) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        if not _is_number(value) or value < minimum or (positive and value <= 0):
            bound = "greater than 0" if positive else f"at least {minimum:g}"
            self.problem(key, f"must be a number {bound}", f"e.g. `{key}: {default:g}`")
            return default
        return float(value)

    def integer(self, key: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        too_big = maximum is not None and _is_number(value) and value > maximum
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum or too_big:
            limit = f" and at most {maximum}" if maximum is not None else ""
            self.problem(key, f"must be a whole number, at least {minimum}{limit}",
                         f"e.g. `{key}: {default}`")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, "must be true or false", f"e.g. `{key}: {str(default).lower()}`")
            return default
        return value

    def text(self, key: str, default: str | None) -> str | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "must be a non-empty string (or null)")
            return default
        return value

    def texts(self, key: str, default: tuple[str, ...], choices: Iterable[str] = (),
              fix: str = "") -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return default
        choices = tuple(choices)
        good = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        if good and choices:
            good = all(v.upper() in choices for v in value)
        if not good:
            kinds = " / ".join(choices) if choices else "strings"
            self.problem(key, f"must be a list of {kinds}", fix)
            return default
        return tuple(v.upper() for v in value) if choices else tuple(value)
