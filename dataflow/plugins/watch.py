"""Hot reload: a project's plugin folders and config/ watched, the project re-read on a change.

Started by `dataflow serve` and by `Engine(project, watch=True)` / `engine.watch()` in a
notebook. Saving, adding or removing a plugin file (or a helper module beside the
plugins, or config/*.yaml) reloads the project (`Project.reload`): a changed plugin's new
version is imported (on_load) and the old one's on_shutdown called; the next run plans
the new source hash, which the engine ships to every worker; a run already going keeps
the version it planned. A plugin whose new code fails keeps its last good version
serving, its error reported (registry problems, API, UI) until it is fixed.

File events come from watchfiles (inotify & co., no polling), grouped over DEBOUNCE_MS.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change, watch

from dataflow.background import BackgroundThread

if TYPE_CHECKING:
    from dataflow.project import Project

log = logging.getLogger("dataflow.plugins")
DEBOUNCE_MS = 100          # changes within this window are one reload
STEP_MS = 20               # quiet time that ends a group of changes
READY_TIMEOUT_MS = 500     # the first (empty) wake-up says the watch is in place
WATCHED_SUFFIXES = (".py", ".yaml", ".yml")
HISTORY = 50               # reloads remembered (`history`)


def relevant(change: Change, path: str) -> bool:
    """A Python or YAML file, or a folder (a plugin folder moved in or out); never
    bytecode, caches or editors' temporary files."""
    parts = Path(path).parts
    if "__pycache__" in parts or any(part.startswith(".") for part in parts[-1:]):
        return False
    suffix = Path(path).suffix
    return suffix in WATCHED_SUFFIXES or suffix == ""


class PluginWatcher:
    """Watches a project's files on a background thread and reloads it on a change.

    `history` describes the latest reloads (`last` the latest one): when, which files,
    which plugins changed, how long it took; `ready` is set once the watch is in place.
    """

    def __init__(self, project: Project):
        self.project = project
        self.history: deque[dict] = deque(maxlen=HISTORY)
        self.ready = threading.Event()
        self._thread = BackgroundThread("dataflow-plugin-watch", self._loop)

    def paths(self) -> list[Path]:
        """The existing plugin folders of the settings, and config/."""
        directory = self.project.directory
        settings = self.project._settings_read[0]
        folders = [(directory / path).resolve() for path in settings.plugin_paths]
        return sorted({path for path in [*folders, directory / "config"] if path.is_dir()})

    def _loop(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            watched = self.paths()
            if not watched:
                self.ready.set()
                stopping.wait(1.0)
                continue
            for changes in watch(*watched, watch_filter=relevant, debounce=DEBOUNCE_MS,
                                 step=STEP_MS, stop_event=stopping, yield_on_timeout=True,
                                 rust_timeout=READY_TIMEOUT_MS, raise_interrupt=False):
                self.ready.set()
                if changes:
                    self.reload(sorted(path for _, path in changes))
                    if self.paths() != watched:    # plugin_paths changed: watch anew
                        break

    def reload(self, files: list[str] | tuple[str, ...] = ()) -> list[str]:
        """Reload the project now; returns the plugins whose version changed."""
        started = time.perf_counter()
        try:
            changed = self.project.reload()
        except Exception:          # a watcher must outlive a bad reload
            log.exception("hot reload failed after changes to %s", ", ".join(files))
            return []
        problems = [str(problem) for problem in self.project.registry.problems]
        self.history.append({"at": time.time(), "files": list(files), "changed": changed,
                             "problems": problems,
                             "seconds": round(time.perf_counter() - started, 4)})
        log.info("hot reload: %s changed; %d plugin problem(s)", ", ".join(changed) or "nothing",
                 len(problems))
        return changed

    @property
    def last(self) -> dict:
        return self.history[-1] if self.history else {}

    def start(self) -> PluginWatcher:
        self.project.registry           # noqa: B018 -- what is served now: the baseline
        self._thread.start()
        return self

    def stop(self) -> bool:
        return self._thread.stop()
