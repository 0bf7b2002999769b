"""raykit: a Jupyter-first kit for learning and experimenting with Ray."""

from . import _timing, check
from ._actors import StateApiUnavailable, actor_calls, actor_state, wait_for_actor
from ._celery import CeleryWorkers
from ._datasets import dataset_path, generate_rows, load_dataset, read_dataset, write_generated
from ._doctor import doctor
from ._exercise import Exercise, SolutionError, exercise, solution
from ._loadgen import LoadReport, load_test
from ._measure import Chart, Comparison, Sweep, Timing, compare, measure, sweep
from ._minicluster import MiniCluster
from ._observe import metric_value, plot_metrics
from ._params import given, small_mode
from ._predict import Observation, Prediction, observe, predict
from ._progress import ProgressReport, my_progress
from ._prometheus import Prometheus, scrape_metrics
from ._serve import free_port, kill_replica, under_load
from ._session import Session, init, shutdown
from ._sidebyside import SideBySide
from ._store import (
    StoreWatch,
    StoreWatchNotDone,
    ipython_references,
    object_references,
    spilled_on_disk,
    store_stats,
    wait_for_error,
    watch_store,
)
from ._tasks import TaskAttempt, TaskState, task_attempts, task_state
from ._timeline import Timeline, timeline
from ._tune import learning_curves, trial_iterations
from ._wait import WaitTimedOut, wait_until
from .check import CheckFailed
from .exceptions import (
    ClusterUnreachable,
    ConfigError,
    DatasetNotFound,
    NotebookError,
    RaykitError,
    RayNotRunning,
)

# Loaded on first use, so that `import raykit` does not import ipywidgets (a terminal, a Ray
# worker or a job script never draws a widget), nor Ray Train (ReportLog).
_LAZY = {"ClusterView": "._widgets", "progress": "._widgets", "ReportLog": "._train"}


# Under the runner (`raykit run`, the test suite's lesson runs), each call into Ray's libraries is
# timed, so that a lesson's seconds split into Ray's start, its libraries' and the lesson's own.
_timing.time_library_calls()


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "actor_calls",
    "actor_state",
    "StateApiUnavailable",
    "wait_for_actor",
    "Chart",
    "CheckFailed",
    "ClusterView",
    "ClusterUnreachable",
    "Comparison",
    "ConfigError",
    "DatasetNotFound",
    "NotebookError",
    "Prometheus",
    "RaykitError",
    "RayNotRunning",
    "Session",
    "TaskAttempt",
    "TaskState",
    "Timeline",
    "Timing",
    "check",
    "compare",
    "dataset_path",
    "doctor",
    "Exercise",
    "exercise",
    "free_port",
    "kill_replica",
    "under_load",
    "my_progress",
    "Observation",
    "observe",
    "predict",
    "Prediction",
    "ProgressReport",
    "solution",
    "SolutionError",
    "generate_rows",
    "given",
    "init",
    "LoadReport",
    "MiniCluster",
    "CeleryWorkers",
    "SideBySide",
    "load_test",
    "load_dataset",
    "progress",
    "read_dataset",
    "ReportLog",
    "scrape_metrics",
    "measure",
    "metric_value",
    "plot_metrics",
    "shutdown",
    "small_mode",
    "store_stats",
    "StoreWatch",
    "Sweep",
    "sweep",
    "StoreWatchNotDone",
    "ipython_references",
    "object_references",
    "spilled_on_disk",
    "wait_for_error",
    "task_attempts",
    "task_state",
    "timeline",
    "learning_curves",
    "trial_iterations",
    "wait_until",
    "WaitTimedOut",
    "watch_store",
    "write_generated",
]
