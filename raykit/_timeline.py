"""``raykit.timeline``: which worker ran which task when, drawn from Ray's own task events."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ._measure import Chart
from ._ray_private import is_put_ref
from ._session import state_api_address
from .exceptions import ConfigError, RayNotRunning

# Ray's workers report task events about once a second, so a finished task shows up in the State
# API 0.2-1 s later (GUIDE section 1). Poll this long at most before drawing what is there.
DEFAULT_WAIT_S = 10.0
_POLL_S = 0.25
# With ``since`` the expected tasks are not known by id: call the set complete once nothing in it
# is still running and no new task has appeared for longer than one event-report interval.
_QUIET_S = 1.2
_MAX_TASKS = 10_000
_DONE = {"FINISHED", "FAILED"}
_SHOWN_TYPES = {"NORMAL_TASK", "ACTOR_TASK"}
_COLUMNS = ["task_id", "name", "attempt", "worker", "node", "start_s", "end_s", "state"]
_FAILED_COLOUR = "#d62728"


class Timeline(Chart):
    """The tasks of one run, as a table and as a Gantt chart of workers against time.

    Attributes
    ----------
    tasks
        pandas DataFrame, one row per task attempt: task_id, name, attempt, worker, node,
        start_s, end_s (seconds after the earliest start), state.
    title
        The chart's title.
    """

    def __init__(self, tasks, *, title: str | None = None):
        self.tasks = tasks
        self.title = title
        self._figure = None

    @property
    def figure(self):
        """A matplotlib Figure: one row per worker (more where a worker ran tasks side by side, as
        async actors do), a bar per task attempt, failed attempts in red."""
        if self._figure is None:
            self._figure = _draw(self.tasks, self.title)
        return self._figure

    def max_concurrency(self) -> int:
        """The largest number of tasks that were running at the same instant."""
        return _max_overlap(zip(self.tasks["start_s"], self.tasks["end_s"], strict=True))

    def __repr__(self) -> str:
        if self.tasks.empty:
            return "Timeline: no tasks"
        failed = int((self.tasks["state"] == "FAILED").sum())
        return (
            f"Timeline: {_count(len(self.tasks), 'task')} on "
            f"{_count(self.tasks['worker'].nunique(), 'worker')} over "
            f"{self.tasks['end_s'].max():.2f} s, at most {self.max_concurrency()} at once"
            + (f", {failed} failed" if failed else "")
        )


def timeline(
    refs: Iterable | None = None,
    *,
    since: float | None = None,
    path=None,
    title: str | None = None,
    wait_s: float = DEFAULT_WAIT_S,
) -> Timeline:
    """Draw which worker ran which task when, from Ray's task events.

    Parameters
    ----------
    refs
        ObjectRefs returned by task or actor-method calls (one ref or a list): the timeline shows
        exactly those tasks. Leave ``None`` to use ``since``.
    since
        A ``time.time()`` taken before the run: the timeline shows this job's tasks that started
        after it. With neither ``refs`` nor ``since``, every task of this job.
    path
        Also save the chart there (``.png`` or ``.svg``).
    title
        The chart's title.
    wait_s
        Task events reach the State API up to a second after a task ends: wait at most this long
        for the expected tasks to show up finished.

    Returns
    -------
    Timeline
        ``.tasks`` (DataFrame), ``.figure``, ``.max_concurrency()``, ``.save(path)``; it displays as
        the chart in a notebook.

    Raises
    ------
    ConfigError
        An argument is of the wrong kind (``refs`` that are not ObjectRefs, a ``path`` matplotlib
        cannot write, a negative ``wait_s``); the message names it.
    RayNotRunning
        This process is not connected to Ray.
    """
    import ray

    _check_args(since, wait_s, title)
    if path is not None:
        _check_path(path)
    wanted = None if refs is None else _task_ids(refs)
    if not ray.is_initialized():
        raise RayNotRunning("raykit.timeline")
    since_ms = None if since is None else since * 1000.0
    deadline = time.monotonic() + wait_s
    rows, last_seen, last_change = [], None, time.monotonic()
    while True:
        rows = _select(_list_job_tasks(), wanted, since_ms)
        now = time.monotonic()
        seen = {(r["task_id"], r["attempt"], r["state"]) for r in rows}
        if seen != last_seen:
            last_seen, last_change = seen, now
        # A failed attempt may still be retried, and with ``since`` the tasks are not known by
        # id: either way, wait until nothing has changed for longer than one report interval.
        settled = all(r["state"] in _DONE for r in rows) and now - last_change >= _QUIET_S
        if wanted is not None:
            finished = {r["task_id"] for r in rows if r["state"] == "FINISHED"}
            started = {r["task_id"] for r in rows}
            complete = wanted <= finished or (wanted <= started and settled)
        else:
            complete = settled
        if complete or now >= deadline:
            break
        time.sleep(_POLL_S)
    result = Timeline(_frame(rows), title=title)
    if path is not None:
        result.save(path)
    return result


def _task_ids(refs) -> set[str]:
    import ray

    hint = "Keep the refs: refs = [f.remote(i) for i in ...]."
    if isinstance(refs, ray.ObjectRef):
        refs = [refs]
    elif isinstance(refs, Iterable) and not isinstance(refs, (str, bytes)):
        refs = list(refs)
    else:
        raise ConfigError(
            f"refs: raykit.timeline takes the ObjectRefs that task calls returned, got a "
            f"{type(refs).__name__}. {hint}"
        )
    ids = set()
    for ref in refs:
        if not isinstance(ref, ray.ObjectRef):
            raise ConfigError(
                f"refs: raykit.timeline takes the ObjectRefs that task calls returned, got a "
                f"{type(ref).__name__}. {hint}"
            )
        if not is_put_ref(ref):  # a ray.put object was made by no task: nothing to draw
            ids.add(ref.task_id().hex())
    return ids


def _check_path(path) -> Path:
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()  # png, svg, pdf...
    if not isinstance(path, (str, os.PathLike)) or Path(path).suffix[1:].lower() not in formats:
        raise ConfigError(
            f"path={path!r}: pass a file name ending in .png or .svg (or another format "
            f"matplotlib writes: {', '.join(sorted(formats))}), e.g. path='timeline.png'."
        )
    return Path(path)


def _check_args(since, wait_s, title) -> None:
    if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
        raise ConfigError(
            f"since={since!r}: pass a time.time() taken before the run (a number of seconds), "
            "e.g. start = time.time() ... raykit.timeline(since=start)."
        )
    if isinstance(wait_s, bool) or not isinstance(wait_s, (int, float)) or not wait_s >= 0:
        raise ConfigError(f"wait_s={wait_s!r}: pass seconds to wait, 0 or more, e.g. wait_s=10.")
    if title is not None and not isinstance(title, str):
        raise ConfigError(f"title={title!r}: pass the chart's title as a string, or None.")


def _list_job_tasks() -> list:
    import ray
    from ray.util.state import list_tasks

    job_id = ray.get_runtime_context().get_job_id()
    return list_tasks(
        address=state_api_address(),
        filters=[("job_id", "=", job_id)],
        detail=True,
        limit=_MAX_TASKS,
        raise_on_missing_output=False,
    )


def _select(states, wanted: set[str] | None, since_ms: float | None) -> list[dict]:
    rows = []
    for s in states:
        if s.type not in _SHOWN_TYPES or s.start_time_ms is None:
            continue  # never ran (yet): nothing to draw
        if wanted is not None and s.task_id not in wanted:
            continue
        if since_ms is not None and s.start_time_ms < since_ms:
            continue
        rows.append(
            {
                "task_id": s.task_id,
                "name": s.name or s.func_or_class_name,
                "attempt": s.attempt_number,
                "worker_id": s.worker_id,
                "worker_pid": s.worker_pid,
                "node": (s.node_id or "")[:8],
                "start_ms": s.start_time_ms,
                "end_ms": s.end_time_ms,
                "state": s.state,
                "type": s.type,
            }
        )
    return rows


def _frame(rows: list[dict]):
    import pandas as pd

    if not rows:
        return pd.DataFrame(columns=_COLUMNS)
    df = pd.DataFrame(rows).sort_values(["start_ms", "task_id", "attempt"], ignore_index=True)
    origin = df["start_ms"].min()
    # A task still running has no end yet: draw it up to the latest moment seen.
    latest = max(
        df["end_ms"].max(skipna=True) if df["end_ms"].notna().any() else origin,
        df["start_ms"].max(),
    )
    df["end_ms"] = df["end_ms"].fillna(latest)
    _clip_to_next_start(df)
    df["start_s"] = (df["start_ms"] - origin) / 1000.0
    df["end_s"] = (df["end_ms"] - origin) / 1000.0
    # Workers numbered in the order they first started a task; the pid says which process it is.
    order = {w: i for i, w in enumerate(dict.fromkeys(df["worker_id"]))}
    df["worker"] = [
        f"worker {order[w] + 1} (pid {pid})" if pid else f"worker {order[w] + 1}"
        for w, pid in zip(df["worker_id"], df["worker_pid"], strict=True)
    ]
    return df[_COLUMNS]


def _clip_to_next_start(df) -> None:
    """End each plain task no later than the next task on its worker starts.

    A worker runs one plain task at a time, but Ray records a task's end when its owner hears of
    it, which can come a few milliseconds after the worker has started the next task. Left as
    is, back-to-back tasks would look as if they overlapped. Actor tasks are left alone: an
    async or threaded actor really does run several at once.
    """
    plain = df["type"] == "NORMAL_TASK"
    for _, group in df[plain].groupby("worker_id"):
        starts = group["start_ms"].tolist()
        for position, index in enumerate(group.index[:-1]):
            df.loc[index, "end_ms"] = min(df.loc[index, "end_ms"], starts[position + 1])


def _max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    # Sweep over start (+1) and end (-1) points; at equal times ends go first, so a task that
    # starts the moment another ends does not count as running beside it.
    points = []
    for start, end in intervals:
        points += [(start, 1), (end, -1)]
    running = best = 0
    for _, delta in sorted(points, key=lambda p: (p[0], p[1])):
        running += delta
        best = max(best, running)
    return best


def _draw(tasks, title: str | None):
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    # A bare Figure, not pyplot: no backend needed to save, and no second copy shown by the
    # notebook's inline backend when the Timeline itself is displayed.
    rows, labels = _rows_per_worker(tasks)
    fig = Figure(figsize=(8, 1.2 + 0.45 * max(len(labels), 1)))
    ax = fig.add_subplot()
    names = list(dict.fromkeys(tasks["name"]))
    palette = [c for c in _palette() if c != _FAILED_COLOUR]
    colour = {n: palette[i % len(palette)] for i, n in enumerate(names)}
    # Tasks that take next to no time still get a visible sliver of the axis.
    min_width = 0.004 * (tasks["end_s"].max() if len(tasks) else 1.0) or 0.002
    for row, y in zip(tasks.itertuples(), rows, strict=True):
        failed = row.state == "FAILED"
        ax.barh(
            y,
            max(row.end_s - row.start_s, min_width),
            left=row.start_s,
            height=0.6,
            color=_FAILED_COLOUR if failed else colour[row.name],
            edgecolor="white",
            linewidth=0.8,
        )
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()  # first worker on top
    ax.set_xlabel("seconds")
    ax.set_ylabel("worker")
    ax.set_xlim(left=0)
    succeeded = set(tasks.loc[tasks["state"] != "FAILED", "name"])
    handles = [Patch(color=colour[n], label=n) for n in names if n in succeeded]
    if (tasks["state"] == "FAILED").any():
        handles.append(Patch(color=_FAILED_COLOUR, label="failed"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    workers = tasks["worker"].nunique()
    default = f"{_count(len(tasks), 'task')} on {_count(workers, 'worker')}"
    ax.set_title(title or default)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _rows_per_worker(tasks) -> tuple[list[int], list[str]]:
    """The chart row of each task, and the row labels: one row per worker, plus a row for each
    task a worker ran beside another one (async or threaded actors), so no bar hides another."""
    lanes_of: dict[str, list[float]] = {}  # worker -> end time of the last bar in each lane
    placed = []
    for worker, start, end in zip(tasks["worker"], tasks["start_s"], tasks["end_s"], strict=True):
        lanes = lanes_of.setdefault(worker, [])
        lane = next((i for i, free_at in enumerate(lanes) if free_at <= start), len(lanes))
        if lane == len(lanes):
            lanes.append(end)
        else:
            lanes[lane] = end
        placed.append((worker, lane))
    labels, row_of = [], {}
    for worker, lanes in lanes_of.items():
        for lane in range(len(lanes)):
            row_of[worker, lane] = len(labels)
            labels.append(worker if lane == 0 else f"same worker, #{lane + 1}")
    return [row_of[p] for p in placed], labels


def _palette() -> list[str]:
    from matplotlib import rcParams

    return rcParams["axes.prop_cycle"].by_key()["color"]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
