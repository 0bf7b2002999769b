"""The object store's own figures (what `ray memory --stats-only` prints), read once or sampled."""

from __future__ import annotations

import functools
import threading
import time

from ._ray_private import gcs_state, store_counters
from .exceptions import ConfigError, RayNotRunning

MB = 1_000_000


@functools.cache
def _global_state(gcs_address: str):
    # One GCS client per cluster: building one costs more than the read it serves.
    return gcs_state(gcs_address)


def store_stats() -> dict:
    """Return the connected cluster's object store figures, summed over its nodes, in MB.

    Keys: ``used_mb`` (bytes held in shared memory now), ``capacity_mb``, ``objects``,
    ``spilled_mb`` and ``restored_mb`` (totals since the cluster started). These are the raylets'
    own counters, the ones ``ray memory --stats-only`` prints; they need no dashboard. (The
    ``object_store_memory`` entry of ``ray.available_resources()`` is a scheduling figure and does
    not go down when objects are stored.)

    Raises
    ------
    RayNotRunning
        This process is not connected to Ray: call ``raykit.init()`` first.
    """
    import ray

    if not ray.is_initialized():
        raise RayNotRunning("raykit.store_stats")
    from ._session import state_api_address

    # Ray has no public call for these counters: _ray_private reads them as `ray memory` does.
    address = state_api_address()
    try:
        stats = store_counters(_global_state(address))
    except Exception:  # noqa: BLE001  the cached client may predate a GCS restart: retry afresh
        _global_state.cache_clear()
        stats = store_counters(_global_state(address))
    return {
        "used_mb": round(stats.object_store_bytes_used / MB, 1),
        "capacity_mb": round(stats.object_store_bytes_avail / MB, 1),
        "objects": stats.num_local_objects,
        "spilled_mb": round(stats.spilled_bytes_total / MB, 1),
        "restored_mb": round(stats.restored_bytes_total / MB, 1),
    }


class StoreWatch:
    """Samples :func:`store_stats` in a background thread while a ``with`` block runs.

    After the block: ``peak_used_mb``, ``spilled_mb`` and ``restored_mb`` (what the block added),
    ``capacity_mb`` and ``samples`` (``(seconds since start, used_mb)`` pairs).
    """

    def __init__(self, interval_s: float = 0.05):
        if (
            isinstance(interval_s, bool)
            or not isinstance(interval_s, (int, float))
            or not (0 < interval_s < float("inf"))
        ):
            raise ConfigError(
                f"interval_s={interval_s!r}: give the seconds between samples as a positive "
                "number, such as interval_s=0.05."
            )
        self.interval_s = float(interval_s)
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._before: dict | None = None
        self._after: dict | None = None

    def __enter__(self) -> StoreWatch:
        self._before = store_stats()
        self._started = time.monotonic()
        self.samples.append((0.0, self._before["used_mb"]))
        self._thread = threading.Thread(target=self._run, name="raykit-store-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if exc_type is None:  # after an error in the block, that error is what matters
            self._after = store_stats()
            self.samples.append((time.monotonic() - self._started, self._after["used_mb"]))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._started, store_stats()["used_mb"]))
            except Exception:  # noqa: BLE001  a missed sample must not end the watched work
                pass
            self._stop.wait(self.interval_s)

    def _figures(self) -> tuple[dict, dict]:
        if self._before is None or self._after is None:
            raise RuntimeError("StoreWatch figures exist once its `with` block has ended.")
        return self._before, self._after

    @property
    def peak_used_mb(self) -> float:
        self._figures()  # the samples are complete only once the block has ended
        return max(used for _, used in self.samples)

    @property
    def capacity_mb(self) -> float:
        return self._figures()[1]["capacity_mb"]

    @property
    def spilled_mb(self) -> float:
        before, after = self._figures()
        return round(after["spilled_mb"] - before["spilled_mb"], 1)

    @property
    def restored_mb(self) -> float:
        before, after = self._figures()
        return round(after["restored_mb"] - before["restored_mb"], 1)

    def __repr__(self) -> str:
        if self._after is None:
            return f"StoreWatch(interval_s={self.interval_s}, running)"
        return (
            f"StoreWatch(peak {self.peak_used_mb} MB of {self.capacity_mb} MB, "
            f"spilled {self.spilled_mb} MB, restored {self.restored_mb} MB, "
            f"{len(self.samples)} samples)"
        )


def watch_store(interval_s: float = 0.05) -> StoreWatch:
    """Sample the object store while a ``with`` block runs: peak usage and what was spilled.

    >>> with raykit.watch_store() as store:
    ...     for batch in ds.iter_batches():
    ...         ...
    >>> store.peak_used_mb, store.spilled_mb
    """
    return StoreWatch(interval_s)
