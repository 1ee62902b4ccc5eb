"""Capture a plugin's own `print` and `logging` output into its log records.

Installed once per process: sys.stdout/sys.stderr become streams that route each
write to the plugin running in the writing thread (if any), and a handler on the
root logger does the same for log records. Other threads write through untouched.
"""
from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataflow.worker.plugin_log import PluginLogger

_current = threading.local()
_install_lock = threading.Lock()
_installed = False
_LEVEL_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARNING",
                logging.ERROR: "ERROR", logging.CRITICAL: "ERROR"}


class _RoutingStream(io.TextIOBase):
    """Lines written by a plugin's thread go to its logger; the rest pass through."""

    def __init__(self, original, level: str):
        self.original, self.level = original, level

    def write(self, text: str) -> int:
        logger = getattr(_current, "logger", None)
        if logger is None:
            return self.original.write(text)
        buffer = getattr(_current, "buffer", "") + text
        *lines, _current.buffer = buffer.split("\n")
        for line in lines:
            if line.strip():
                logger.record(self.level, line, {"source": "print"})
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return False


class _RoutingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        logger = getattr(_current, "logger", None)
        if logger is None or record.name.startswith(("distributed", "dataflow", "tornado")):
            return
        level = _LEVEL_NAMES.get(record.levelno, "INFO")
        logger.record(level, record.getMessage(), {"source": "logging", "logger": record.name})


def install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        sys.stdout = _RoutingStream(sys.stdout, "INFO")
        sys.stderr = _RoutingStream(sys.stderr, "WARNING")
        root = logging.getLogger()
        root.addHandler(_RoutingHandler())
        if root.level > logging.INFO:
            root.setLevel(logging.INFO)
        _installed = True


@contextmanager
def captured(plugin_logger: PluginLogger) -> Iterator[None]:
    """Route this thread's prints and log records to `plugin_logger` meanwhile."""
    install()
    _current.logger, _current.buffer = plugin_logger, ""
    try:
        yield
    finally:
        leftover = _current.buffer
        _current.logger = None
        if leftover.strip():
            plugin_logger.record("INFO", leftover, {"source": "print"})
