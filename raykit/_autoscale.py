"""Watching a cluster scale: worker nodes by type and tasks waiting for a node, over time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

# The node label Ray gives a node from its autoscaler node type (KubeRay: the worker group).
NODE_GROUP_LABEL = "ray.io/node-group"
# A task in this state waits for a node that can take it: what makes an autoscaler add one.
WAITING_FOR_A_NODE = "PENDING_NODE_ASSIGNMENT"


@dataclass(frozen=True)
class NodeSample:
    """What the cluster looked like at one moment of a :class:`NodeHistory`."""

    at_s: float  # seconds since the history started
    workers: dict  # alive worker nodes by node type, e.g. {"cpu-worker": 2}
    waiting: int  # tasks waiting for a node (PENDING_NODE_ASSIGNMENT)

    @property
    def worker_count(self) -> int:
        return sum(self.workers.values())


class NodeHistory:
    """Samples a cluster every ``every_s`` seconds in a background thread, until :meth:`stop`.

    Each sample counts the alive worker nodes by node type (``ray.nodes()``, one call to the
    GCS) and the tasks waiting for a node (Ray's State API). Start it with
    ``MiniCluster.node_history()`` while this process's driver is connected to the cluster.
    """

    def __init__(self, gcs_address: str, *, every_s: float = 0.5, head_ids: tuple = ()):
        self.gcs_address = gcs_address
        self.every_s = every_s
        self.head_ids = set(head_ids)
        self.samples: list[NodeSample] = []
        self.started = time.monotonic()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raykit-node-history", daemon=True)
        self._thread.start()

    def now(self) -> float:
        """Seconds since the history started: the clock of its samples, to mark events on."""
        return round(time.monotonic() - self.started, 2)

    def stop(self) -> NodeHistory:
        """Stop sampling (after one last sample); returns the history, for chaining."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout=30)
        return self

    def __enter__(self) -> NodeHistory:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                self.samples.append(self.sample())
            except Exception as exc:  # a sample lost while the cluster changes: note it, go on
                self.errors.append(f"{type(exc).__name__}: {exc}")
            if stopping:
                return
            self._stop.wait(self.every_s)

    def sample(self) -> NodeSample:
        """One sample, now."""
        import ray
        from ray.util.state import list_tasks

        at = self.now()
        workers: dict[str, int] = {}
        for node in ray.nodes():
            if node["Alive"] and node["NodeID"] not in self.head_ids:
                group = node.get("Labels", {}).get(NODE_GROUP_LABEL, "(started by hand)")
                workers[group] = workers.get(group, 0) + 1
        waiting = list_tasks(
            address=self.gcs_address,
            filters=[("state", "=", WAITING_FOR_A_NODE)],
            limit=10_000,
            raise_on_missing_output=False,
        )
        return NodeSample(at, dict(sorted(workers.items())), len(waiting))

    # -- reading it ---------------------------------------------------------------------------

    def first(self, condition) -> NodeSample | None:
        """The first sample for which ``condition(sample)`` is true, or ``None``."""
        return next((s for s in self.samples if condition(s)), None)

    def last(self, condition) -> NodeSample | None:
        """The last sample for which ``condition(sample)`` is true, or ``None``."""
        return next((s for s in reversed(self.samples) if condition(s)), None)

    @property
    def most_workers(self) -> int:
        """The most worker nodes alive at once."""
        return max((s.worker_count for s in self.samples), default=0)

    def table(self):
        """The samples where something changed, as a pandas DataFrame."""
        import pandas as pd

        rows, previous = [], None
        for s in self.samples:
            key = (tuple(s.workers.items()), s.waiting)
            if key != previous:
                rows.append(
                    {"seconds": s.at_s, "worker nodes": s.worker_count, "waiting": s.waiting}
                    | {f"{k} nodes": v for k, v in s.workers.items()}
                )
                previous = key
        return pd.DataFrame(rows).fillna(0)

    def plot(self, title: str = "the autoscaler at work", marks: dict | None = None):
        """Worker nodes alive and tasks waiting for a node, over time, as a matplotlib figure.

        ``marks`` draws a dashed vertical line at each ``{label: seconds}``.
        """
        import matplotlib.pyplot as plt

        times = [s.at_s for s in self.samples]
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.step(times, [s.worker_count for s in self.samples], where="post", label="worker nodes")
        ax.step(
            times,
            [s.waiting for s in self.samples],
            where="post",
            linestyle="--",
            label="tasks waiting for a node",
        )
        for label, at in (marks or {}).items():
            ax.axvline(at, color="grey", linewidth=0.8, linestyle=":")
            ax.annotate(label, (at, ax.get_ylim()[1] * 0.92), fontsize=8, rotation=90, ha="right")
        ax.set_xlabel("seconds")
        ax.set_ylabel("count")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(title)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        plt.close(fig)
        return fig

    def __repr__(self) -> str:
        state = "sampling" if self._thread.is_alive() else "stopped"
        return (
            f"NodeHistory({len(self.samples)} samples over "
            f"{self.samples[-1].at_s if self.samples else 0:.1f} s, {state}, "
            f"at most {self.most_workers} worker nodes)"
        )
