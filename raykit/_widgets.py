"""Live views of the cluster for notebooks: ``ClusterView`` and ``progress(refs)``."""

from __future__ import annotations

import collections
import collections.abc
import threading
import time
from datetime import datetime

import ipywidgets as W

from ._dashboard import dashboard_link
from ._host import fmt_bytes
from ._html import render
from ._session import ray_lock, state_api_address
from .exceptions import ConfigError

# The resources every view shows, in this order; custom resources follow, sorted.
_MAIN_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")
_BYTE_RESOURCES = {"memory", "object_store_memory"}
_TASK_GROUPS = ("pending", "running", "finished", "failed")
_ACTOR_STATES = ("PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD")


def _label(name: str, used: float, total: float) -> str:
    if name in _BYTE_RESOURCES:
        return f"{fmt_bytes(used)} / {fmt_bytes(total)}"
    return f"{used:g} / {total:g}"


def read_resources() -> dict:
    """The fast tier: nodes and resource use from the GCS (about a millisecond)."""
    import ray

    from ._ray_private import free_resources_per_node

    nodes = ray.nodes()
    free_by_node = free_resources_per_node()
    names = set()
    rows, totals = [], collections.defaultdict(lambda: [0.0, 0.0])
    for node in nodes:
        total = {k: v for k, v in (node.get("Resources") or {}).items() if _is_shown(k)}
        alive = bool(node.get("Alive"))
        free = free_by_node.get(node["NodeID"])
        usage = {}
        for name, amount in total.items():
            # Ray leaves a fully used resource out of the available map: missing means 0 free.
            used = amount - free.get(name, 0.0) if (alive and free is not None) else 0.0
            usage[name] = (used, amount, _label(name, used, amount))
            if alive:
                totals[name][0] += used
                totals[name][1] += amount
            names.add(name)
        rows.append(
            {
                "id": node["NodeID"][:8],
                "address": node.get("NodeManagerAddress", "?"),
                "alive": alive,
                "head": "node:__internal_head__" in (node.get("Resources") or {}),
                "usage": usage,
            }
        )
    order = [n for n in _MAIN_RESOURCES if n in names] + sorted(names - set(_MAIN_RESOURCES))
    return {
        "nodes": rows,
        "resource_names": order,
        "totals": {k: tuple(totals[k]) for k in order if k in totals},
    }


def read_work() -> dict:
    """The State API tier: tasks and actors by state (tens of milliseconds; needs the dashboard)."""
    from ray.util.state import summarize_actors, summarize_tasks

    address = state_api_address()
    tasks = dict.fromkeys(_TASK_GROUPS, 0)
    summary = summarize_tasks(address=address, raise_on_missing_output=False)
    for entry in summary["cluster"]["summary"].values():
        for state, count in entry.get("state_counts", {}).items():
            tasks[_task_group(state)] += count
    actors = dict.fromkeys(_ACTOR_STATES, 0)
    summary = summarize_actors(address=address, raise_on_missing_output=False)
    for entry in summary["cluster"]["summary"].values():
        for state, count in entry.get("state_counts", {}).items():
            actors[state] = actors.get(state, 0) + count
    return {"tasks": tasks, "actors": actors}


def _task_group(state: str) -> str:
    if state.startswith("RUNNING"):
        return "running"
    if state in ("FINISHED", "FAILED"):
        return state.lower()
    return "pending"  # PENDING_*, SUBMITTED_TO_WORKER, NIL: not running yet


def _is_shown(resource: str) -> bool:
    return not resource.startswith(("node:", "accelerator_type:"))


class ClusterView(W.VBox):
    """A live panel of the cluster: nodes, resource use, tasks and actors by state.

    Parameters
    ----------
    fast_interval
        Seconds between reads of nodes and resources (cheap: the GCS answers in about 1 ms).
    state_interval
        Seconds between State API summaries of tasks and actors (tens of ms; needs the dashboard).
    start
        Start refreshing in a background thread at once; the notebook stays usable meanwhile.
    """

    def __init__(
        self, *, fast_interval: float = 1.0, state_interval: float = 5.0, start: bool = True
    ):
        for name, seconds in (("fast_interval", fast_interval), ("state_interval", state_interval)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise ConfigError(f"{name}={seconds!r}: pass seconds between reads, e.g. 1.0.")
        self.fast_interval = fast_interval
        self.state_interval = state_interval
        self.header = W.HTML()
        self.bars: dict[str, W.FloatProgress] = {}
        self.bar_labels: dict[str, W.Label] = {}
        self.bar_box = W.VBox()
        self.nodes = W.HTML()
        self.work = W.HTML(value=render("cluster_work.html", work=None, note="tasks: reading..."))
        self.button = W.Button(description="Stop", icon="stop", layout=W.Layout(width="90px"))
        self.button.on_click(lambda _: self.stop() if self.running else self.start())
        super().__init__([self.header, self.bar_box, self.nodes, self.work, self.button])
        self.resources: dict | None = None
        self.work_counts: dict | None = None
        self.status = "starting"
        self.stats = {
            "fast": collections.deque(maxlen=1000),
            "state": collections.deque(maxlen=1000),
            "cpu_s": 0.0,
            "wall_s": 0.0,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()
        if start:
            self.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Refresh in the background until :meth:`stop` (or the Stop button)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="raykit-cluster-view", daemon=True)
        self._thread.start()
        self.button.description, self.button.icon = "Stop", "stop"

    def stop(self) -> None:
        """Stop refreshing; the panel keeps its last state, marked as stopped."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._thread = None
        self.button.description, self.button.icon = "Start", "play"
        self._set_status(f"stopped at {datetime.now():%H:%M:%S}; press Start to resume", live=False)

    def refresh(self, *, work: bool = True) -> None:
        """Read the cluster now (both tiers unless ``work=False``) and update the widgets."""
        self._refresh_resources()
        if work:
            self._refresh_work()

    def _loop(self) -> None:
        next_fast = next_state = time.monotonic()
        start_wall, start_cpu = time.monotonic(), time.thread_time()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_fast:
                self._refresh_resources()
                next_fast = now + self.fast_interval
            if now >= next_state:
                self._refresh_work()
                next_state = now + self.state_interval
            self.stats["cpu_s"] = time.thread_time() - start_cpu
            self.stats["wall_s"] = time.monotonic() - start_wall
            self._stop.wait(max(0.0, min(next_fast, next_state) - time.monotonic()))

    def _refresh_resources(self) -> None:
        import ray

        from ._session import current_dashboard_url

        began = time.perf_counter()
        with ray_lock:
            if not ray.is_initialized():
                self._set_status(
                    "no cluster: Ray is not running (raykit.init() to start); "
                    "showing the last state",
                    live=False,
                )
                return
            try:
                snapshot = read_resources()
                link = dashboard_link(current_dashboard_url())
            except Exception as exc:  # the cluster went away under us
                self._set_status(
                    f"cluster unreachable ({type(exc).__name__}); showing the last state",
                    live=False,
                )
                return
        self.resources = snapshot
        self._dashboard = link
        self._render_resources(snapshot)
        self.stats["fast"].append(time.perf_counter() - began)
        self._set_status(f"live, refreshed {datetime.now():%H:%M:%S}", live=True)

    def _refresh_work(self) -> None:
        import ray

        began = time.perf_counter()
        with ray_lock:
            if not ray.is_initialized():
                return
            try:
                counts, note = read_work(), ""
            except Exception as exc:  # ServerUnavailable when the dashboard is off
                counts = None
                note = (
                    f"tasks and actors need the dashboard's State API, which did not answer "
                    f"({type(exc).__name__}); start Ray with include_dashboard=True"
                )
        self.work_counts = counts
        self.work.value = render("cluster_work.html", work=counts, note=note)
        if counts is not None:
            self.stats["state"].append(time.perf_counter() - began)

    def _render_resources(self, snapshot: dict) -> None:
        shown = [n for n in _MAIN_RESOURCES if n in snapshot["totals"]]
        if list(self.bars) != shown:  # first read, or a GPU node joined: rebuild the rows
            for name in shown:
                self.bars.setdefault(
                    name,
                    W.FloatProgress(
                        min=0, max=1, description=name[:14], style={"description_width": "110px"}
                    ),
                )
                self.bar_labels.setdefault(name, W.Label())
            self.bar_box.children = [W.HBox([self.bars[n], self.bar_labels[n]]) for n in shown]
        for name in shown:
            used, total = snapshot["totals"][name]
            bar = self.bars[name]
            bar.max = max(total, 1e-9)
            bar.value = min(used, bar.max)
            self.bar_labels[name].value = _label(name, used, total) + (
                " CPUs in use" if name == "CPU" else ""
            )
        self.nodes.value = render(
            "cluster_view.html", nodes=snapshot["nodes"], resource_names=snapshot["resource_names"]
        )

    def _set_status(self, text: str, *, live: bool) -> None:
        self.status = text
        self.header.value = render(
            "cluster_header.html",
            dashboard=getattr(self, "_dashboard", None),
            status=text,
            live=live,
        )

    def __repr__(self) -> str:
        lines = [f"ClusterView: {self.status}"]
        if self.resources:
            for name, (used, total) in self.resources["totals"].items():
                lines.append(f"  {name}: {_label(name, used, total)}")
            alive = sum(n["alive"] for n in self.resources["nodes"])
            lines.append(f"  nodes: {alive} alive of {len(self.resources['nodes'])}")
        if self.work_counts:
            lines.append(
                "  tasks: " + ", ".join(f"{k} {v}" for k, v in self.work_counts["tasks"].items())
            )
            lines.append(
                "  actors: " + ", ".join(f"{k} {v}" for k, v in self.work_counts["actors"].items())
            )
        return "\n".join(lines)


class Progress:
    """Progress of a list of futures: done/total, failures and rate, updated as each finishes.

    A widget bar in Jupyter and a text bar elsewhere (both from tqdm). It updates from Ray's
    completion callbacks, so it keeps moving while the notebook blocks in ``ray.get``.
    """

    def __init__(self, refs, *, desc: str = "tasks"):
        import ray

        refs = list(refs) if isinstance(refs, collections.abc.Iterable) else [refs]
        if not all(isinstance(r, ray.ObjectRef) for r in refs):
            raise ConfigError(
                "progress(refs) needs a list of ObjectRefs, e.g. [f.remote(i) for i in range(10)]."
            )
        self.total, self.done, self.failed = len(refs), 0, 0
        self._lock = threading.Lock()
        self._all_done = threading.Event()
        self.bar = _tqdm_class()(total=self.total, desc=desc, unit="task")
        if not refs:
            self._finish()
        for ref in refs:
            ref.future().add_done_callback(self._on_done)

    def _on_done(self, future) -> None:
        with self._lock:
            self.done += 1
            if future.exception() is not None:
                self.failed += 1
                self.bar.colour = "#d62728"
            self.bar.set_postfix(failed=self.failed, refresh=False)
            self.bar.update(1)
            if self.done == self.total:
                self._finish()

    def _finish(self) -> None:
        self.bar.close()
        self._all_done.set()

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until every future has finished (or ``timeout`` seconds); return self."""
        self._all_done.wait(timeout)
        return self

    def __repr__(self) -> str:
        return f"Progress: {self.done}/{self.total} done, {self.failed} failed"


def progress(refs, *, desc: str = "tasks") -> Progress:
    """Show a progress bar for ``refs`` (a list of ObjectRefs) and return at once.

    Call ``ray.get(refs)`` (or ``.wait()``) afterwards; the bar moves as tasks finish, counts
    failures, and shows the rate.
    """
    return Progress(refs, desc=desc)


def _tqdm_class():
    from tqdm.auto import tqdm

    return tqdm
