"""How long a notebook waited for Ray to start and for Ray's libraries, recorded for the runner."""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import json
import os
import sys
import threading
import time
from pathlib import Path

# Set by the runner for each notebook's kernel: a JSON-lines file the kit's Ray starts append to.
STARTUP_LOG_ENV = "RAYKIT_STARTUP_LOG"

# The calls into Ray's libraries a runner times, by the module that defines them: each starts the
# library's own actors (Train's controller and workers, Tune's trials, Serve's controller, proxy
# and replicas, RLlib's env runners and learner) before it does the lesson's work.
LIBRARY_CALLS: dict[str, tuple[tuple[str, str], ...]] = {
    "ray.train.v2.api.data_parallel_trainer": (("DataParallelTrainer.fit", "Train fit"),),
    "ray.tune.tuner": (("Tuner.fit", "Tune fit"),),
    "ray.serve.api": (("start", "Serve start"), ("run", "Serve run")),
    "ray.rllib.algorithms.algorithm_config": (("AlgorithmConfig.build_algo", "RLlib build"),),
    "ray.rllib.algorithms.algorithm": (("Algorithm.train", "RLlib train"),),
}
_LIBRARY = "library"  # the "part" of a log line that times a library call, not a Ray start


@contextlib.contextmanager
def ray_start(what: str):
    """Time the block (a cluster or node starting, its wait for its turn included) and append
    ``{"what", "seconds"}`` to the runner's log, when a runner asked for one."""
    began = time.perf_counter()
    try:
        yield
    finally:
        _append({"what": what, "seconds": round(time.perf_counter() - began, 2)})


def startup_seconds(path: str | Path) -> float:
    """The seconds recorded in a runner's log (0 when nothing started Ray through the kit)."""
    return round(sum(line["seconds"] for line in _read(path) if line.get("part") != _LIBRARY), 2)


def library_calls(path: str | Path) -> dict[str, list[float]]:
    """``{label: [calls, seconds]}`` of the library calls in a runner's log, in first-call order."""
    calls: dict[str, list[float]] = {}
    for line in _read(path):
        if line.get("part") == _LIBRARY:
            add_calls(calls, {line["what"]: [1, line["seconds"]]})
    return calls


def add_calls(into: dict[str, list[float]], calls: dict[str, list[float]]) -> None:
    """Add ``{label: [calls, seconds]}`` into another such dict: a run's figures from its parts."""
    for label, (count, seconds) in calls.items():
        total = into.setdefault(label, [0, 0.0])
        total[0] += count
        total[1] = round(total[1] + seconds, 2)


def calls_seconds(calls: dict[str, list[float]]) -> float:
    """The seconds of all the calls in ``{label: [calls, seconds]}``."""
    return round(sum(seconds for _, seconds in calls.values()), 2)


def time_library_calls() -> None:
    """In a notebook kernel a runner started, time each call of ``LIBRARY_CALLS``, those of
    modules imported already and those imported later. Only in the kernel: a Ray worker inherits
    the log's variable too, and Train's ``fit`` inside a Tune trial is part of Tune's ``fit``."""
    if not os.environ.get(STARTUP_LOG_ENV) or "ipykernel" not in sys.modules:
        return
    if any(isinstance(finder, _TimeOnImport) for finder in sys.meta_path):
        return  # `import raykit` again, or importlib.reload: once is enough
    for name, calls in LIBRARY_CALLS.items():
        if name in sys.modules:
            _wrap_calls(sys.modules[name], calls)
    sys.meta_path.insert(0, _TimeOnImport())


class _TimeOnImport(importlib.abc.MetaPathFinder):
    """Wraps a library module's calls as soon as it has been executed, before anything imports
    a name from it (``ray.serve`` does ``from ray.serve.api import run``)."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in LIBRARY_CALLS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                exec_module = spec.loader.exec_module

                def exec_and_wrap(module, exec_module=exec_module):
                    exec_module(module)
                    _wrap_calls(module, LIBRARY_CALLS[fullname])

                spec.loader.exec_module = exec_and_wrap  # this module's own loader instance
                return spec
        return None


def _wrap_calls(module, calls) -> None:
    for attribute, label in calls:
        owner_name, _, name = attribute.rpartition(".")
        owner = getattr(module, owner_name, None) if owner_name else module
        original = getattr(owner, name, None)
        if original is None or getattr(original, "__raykit_timed__", False):
            continue  # a name this Ray does not have (a test pins them): nothing to time
        timed = _timed(label, original)
        setattr(owner, name, timed)
        package = sys.modules.get(module.__name__.rpartition(".")[0])
        if not owner_name and package is not None and getattr(package, name, None) is original:
            setattr(package, name, timed)  # `serve.run` bound before the wrap


_depth = threading.local()


def _timed(label: str, call):
    @functools.wraps(call)
    def timed(*args, **kwargs):
        if getattr(_depth, "inside", False):  # `build` calls `build_algo`: the outer call counts
            return call(*args, **kwargs)
        _depth.inside = True
        began = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            _depth.inside = False
            seconds = round(time.perf_counter() - began, 2)
            _append({"what": label, "seconds": seconds, "part": _LIBRARY})

    timed.__raykit_timed__ = True
    return timed


def _append(line: dict) -> None:
    path = os.environ.get(STARTUP_LOG_ENV)
    if path:
        with contextlib.suppress(OSError):  # a lesson never fails for its timing log
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")


def _read(path: str | Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
