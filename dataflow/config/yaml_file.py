"""YAML files read with the line of every key, so a problem can say where it is."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dataflow.errors import Problem


@dataclass
class YamlDocument:
    """A parsed YAML file: its data and the 1-based line of each key path."""

    path: Path
    data: dict = field(default_factory=dict)
    lines: dict[tuple, int] = field(default_factory=dict)
    display: str = ""

    def line_of(self, key_path: tuple) -> int | None:
        """The line of the deepest key on `key_path` that the file has."""
        for end in range(len(key_path), 0, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line:
                return line
        return None

    def problem(self, key_path: tuple, message: str, fix: str = "") -> Problem:
        key = ".".join(str(part) for part in key_path)
        return Problem(self.display, key, message, fix, self.line_of(key_path))


def _record_lines(node, prefix: tuple, lines: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            lines[path] = key_node.start_mark.line + 1
            _record_lines(value_node, path, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[prefix + (index,)] = item.start_mark.line + 1
            _record_lines(item, prefix + (index,), lines)


def read_yaml(path: Path, display: str) -> tuple[YamlDocument, list[Problem]]:
    """Parse `path`; a missing file is an empty document, a broken one a Problem."""
    document = YamlDocument(path=path, display=display)
    if not path.exists():
        return document, []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        at = raw[:error.start].count(b"\n") + 1
        return document, [Problem(display, "", f"byte 0x{raw[error.start]:02x} at line {at} "
                                  "is not UTF-8 text", "save the file as UTF-8 (re-type or "
                                  "remove the character on that line)", at)]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        return document, [Problem(display, "", f"YAML syntax error: {reason}",
                                  "fix the indentation/quoting at that line", line)]
    if data is None:
        return document, []
    if not isinstance(data, dict):
        return document, [Problem(display, "", "the file must be a mapping of keys",
                                  "start the file with top-level `key: value` lines", 1)]
    _record_lines(node, (), document.lines)
    document.data = data
    return document, []
