"""How long a notebook waited for Ray to start, recorded for the runner that ran it."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

# Set by the runner for each notebook's kernel: a JSON-lines file the kit's Ray starts append to.
STARTUP_LOG_ENV = "RAYKIT_STARTUP_LOG"


@contextlib.contextmanager
def ray_start(what: str):
    """Time the block (a cluster or node starting, its wait for its turn included) and append
    ``{"what", "seconds"}`` to the runner's log, when a runner asked for one."""
    began = time.perf_counter()
    try:
        yield
    finally:
        path = os.environ.get(STARTUP_LOG_ENV)
        if path:
            line = {"what": what, "seconds": round(time.perf_counter() - began, 2)}
            with contextlib.suppress(OSError):  # a lesson never fails for its timing log
                with open(path, "a", encoding="utf-8") as log:
                    log.write(json.dumps(line) + "\n")


def startup_seconds(path: str | Path) -> float:
    """The seconds recorded in a runner's log (0 when nothing started Ray through the kit)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0.0
    return round(sum(json.loads(line)["seconds"] for line in lines if line.strip()), 2)
