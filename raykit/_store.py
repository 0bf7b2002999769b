"""The object store as Ray reports it: its figures, the references that keep an object alive,
spill files on disk, and the error a lost object raises; read once, settled, or sampled."""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from pathlib import Path

from ._ray_private import gcs_state, store_counters
from ._wait import wait_until
from .exceptions import ConfigError, RaykitError, RayNotRunning

MB = 1_000_000
# Ray deletes freed objects in batches, about once a second (its free_objects_period): two
# readings further apart than that which agree mean the store has stopped changing.
SETTLE_EVERY_S = 1.2
_OBJECT_ID = re.compile(r"^[0-9a-f]{56}$")  # 28 bytes: the creating task's id, then an index


class StoreWatchNotDone(RaykitError, RuntimeError):
    """A :class:`StoreWatch` figure was read before its ``with`` block ended."""


@functools.cache
def _global_state(gcs_address: str):
    # One GCS client per cluster: building one costs more than the read it serves.
    return gcs_state(gcs_address)


def _check_seconds(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise ConfigError(f"{name}={value!r} must be a number of seconds, 0 or more, e.g. 15.")
    return float(value)


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be True or False.")
    return value


def _settled(read, timeout_s: float, quiet: int = 1):
    """``read()`` again every :data:`SETTLE_EVERY_S` until ``quiet + 1`` readings in a row agree
    (or ``timeout_s`` has passed); the last reading."""
    last, tries, quiet_reads = read(), 0, 0

    def unchanged() -> bool:
        nonlocal last, tries, quiet_reads
        tries += 1
        if tries == 1:  # wait_until asks at once: compare only after a first pause
            return False
        now = read()
        quiet_reads = quiet_reads + 1 if now == last else 0
        last = now
        return quiet_reads >= quiet

    wait_until(unchanged, timeout_s=timeout_s, every_s=SETTLE_EVERY_S, raise_on_timeout=False)
    return last


def store_stats(settle: bool = False, timeout_s: float = 15.0) -> dict:
    """Return the connected cluster's object store figures, summed over its nodes, in MB.

    Keys: ``used_mb`` (bytes held in shared memory now), ``capacity_mb``, ``objects``,
    ``spilled_mb`` and ``restored_mb`` (totals since the cluster started). These are the raylets'
    own counters, the ones ``ray memory --stats-only`` prints; they need no dashboard. (The
    ``object_store_memory`` entry of ``ray.available_resources()`` is a scheduling figure and does
    not go down when objects are stored.)

    Parameters
    ----------
    settle
        Read again until the figures stop changing: Ray deletes freed objects in batches and
        spills in the background, so a reading taken right after either is a moment early.
        Costs a second or more.
    timeout_s
        With ``settle``, how long to keep reading at most; the last reading is returned then.

    Raises
    ------
    RayNotRunning
        This process is not connected to Ray: call ``raykit.init()`` first.
    """
    import ray

    _check_flag("settle", settle)
    timeout_s = _check_seconds("timeout_s", timeout_s)
    if not ray.is_initialized():
        raise RayNotRunning("raykit.store_stats")
    if settle:
        return _settled(_read_store_stats, timeout_s)
    return _read_store_stats()


def _read_store_stats() -> dict:
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
    ``capacity_mb`` and ``samples`` (``(seconds since start, used_mb)`` pairs). Reading a
    figure before the block has ended raises :class:`StoreWatchNotDone`, which says so.
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
        self._ended = False

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
        self._ended = True
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
            if self._ended:
                raise StoreWatchNotDone(
                    "the store watch's block ended with an error, so it has no final figures: "
                    "fix the error in the block and run it again."
                )
            when = "has not started" if self._before is None else "is still running"
            raise StoreWatchNotDone(
                f"the store watch {when}: its figures (peak_used_mb, spilled_mb, restored_mb, "
                "capacity_mb) exist once its block has ended. Read them after "
                "`with raykit.watch_store() as store: ...`, not inside it or before it."
            )
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


# -- one object: the references that keep it alive ----------------------------------------------


def _object_id(ref, argument: str = "ref") -> str:
    """The hex id of an ObjectRef, or of an id given as hex (which holds no reference)."""
    import ray

    if isinstance(ref, ray.ObjectRef):
        return ref.hex()
    if isinstance(ref, str) and _OBJECT_ID.match(ref):
        return ref
    raise ConfigError(
        f"{argument}={ref!r:.80} is not an ObjectRef nor an object id: pass the ref, or its id "
        "as ref.hex() (an id, unlike the ref, does not keep the object alive)."
    )


def _job_of_object(object_id: str) -> str:
    """The hex id of the Ray job that made the object ``object_id`` (hex).

    Ray's ids nest (its id specification): an object id is the id of the task that made it
    plus a 4-byte index; a task id ends with an actor id, whose last 4 bytes are the job id. So
    bytes 20 to 24 of an object id are its job's id, which ``get_job_id()`` prints as hex.
    """
    return object_id[40:48]


def _object_rows(object_id: str) -> list:
    """The State API's rows for one object: one per process that holds a reference to it."""
    import ray

    if not ray.is_initialized():
        raise RayNotRunning("raykit.object_references")
    from ray.util.state import list_objects

    from ._session import state_api_address

    try:
        return list_objects(
            address=state_api_address(),
            filters=[("object_id", "=", object_id)],
            detail=True,
            raise_on_missing_output=False,
        )
    except Exception as exc:  # noqa: BLE001  ServerUnavailable, RayStateApiException, a timeout
        raise RaykitError(
            f"Ray's State API did not answer ({type(exc).__name__}); it needs the cluster's "
            "dashboard, which raykit.init() starts (include_dashboard=True)."
        ) from exc


def object_references(ref, wait_s: float = 0.0) -> list[str]:
    """The kinds of reference that keep one object alive, as Ray's State API lists them.

    Each process that holds a reference shows up once, with its kind: ``LOCAL_REFERENCE`` (a
    name, a list, a cache holds the ref), ``PINNED_IN_MEMORY`` (a value from ``ray.get`` is in
    use there), ``USED_BY_PENDING_TASK`` (a task waits for it as an argument),
    ``CAPTURED_IN_OBJECT`` (the ref is inside another object). An empty list: nothing refers
    to the object, and Ray has freed it. This is ``ray.util.state.list_objects`` filtered on the
    object's id.

    Parameters
    ----------
    ref
        An ObjectRef, or its id as ``ref.hex()``. Pass the id to look at an object after you
        dropped its ref: the ref itself would keep the object alive.
    wait_s
        Freeing is asynchronous: ask again for up to this many seconds until no reference is
        left. 0 asks once.

    Returns
    -------
    list of str
        The reference kinds, sorted, each once.
    """
    object_id = _object_id(ref)
    wait_s = _check_seconds("wait_s", wait_s)
    if wait_s:
        wait_until(
            lambda: not _object_rows(object_id),
            timeout_s=wait_s,
            every_s=0.2,
            raise_on_timeout=False,
        )
    return sorted({row.reference_type for row in _object_rows(object_id)})


def ipython_references(ref) -> list[str]:
    """Where IPython's output cache holds a ref to this object: ``Out[n]``, ``_``, ``__``,
    ``___`` (each also kept in a hidden namespace, which ``%reset -f out`` does not clear).

    A cell whose last expression is an ObjectRef displays it, and IPython keeps that value, so
    the object stays in the store after you drop your own name for it. Outside IPython: ``[]``.

    Parameters
    ----------
    ref
        An ObjectRef, or its id as ``ref.hex()``.
    """
    import ray

    from ._exercise import _ipython

    object_id = _object_id(ref)
    shell = _ipython()
    if shell is None:
        return []
    places = {f"Out[{n}]": value for n, value in shell.user_ns.get("Out", {}).items()}
    for name in ("_", "__", "___"):
        places[name] = shell.user_ns.get(name)
        places[f"{name} (hidden copy)"] = shell.user_ns_hidden.get(name)
    return [
        place
        for place, value in places.items()
        if isinstance(value, ray.ObjectRef) and value.hex() == object_id
    ]


def wait_for_error(ref, timeout_s: float = 30.0) -> Exception:
    """Call ``ray.get(ref)`` until Ray raises an error for it, and return that error.

    When an object is lost (its owner died, its node went away), the news takes a moment to
    reach this process; until then ``ray.get`` may still return the value.

    Parameters
    ----------
    ref
        The ObjectRef to read.
    timeout_s
        How long to keep trying, in seconds.

    Returns
    -------
    ray.exceptions.RayError
        What ``ray.get`` raised, e.g. ``OwnerDiedError`` or ``ObjectLostError``.

    Raises
    ------
    WaitTimedOut
        ``ray.get`` still returned the value after ``timeout_s`` seconds.
    """
    import ray

    if not isinstance(ref, ray.ObjectRef):
        raise ConfigError(
            f"ref={ref!r:.80} must be an ObjectRef, e.g. the one f.remote() returned."
        )
    timeout_s = _check_seconds("timeout_s", timeout_s)
    if not ray.is_initialized():
        raise RayNotRunning("raykit.wait_for_error")

    def error():
        try:
            ray.get(ref, timeout=max(0.1, min(5.0, timeout_s)))
        except ray.exceptions.GetTimeoutError:
            return None
        except ray.exceptions.RayError as exc:
            return exc
        return None

    what = f"an error from ray.get of {ref.hex()[:16]}..."
    return wait_until(error, timeout_s=timeout_s, every_s=0.5, what=what)


# -- spilling: the files on disk ------------------------------------------------------------------


def _spill_dirs() -> list[Path]:
    """The folders where this host's node of the connected cluster spills (Ray's default: the
    session folder's ``ray_spilled_objects*``)."""
    import ray

    from . import _session

    if not ray.is_initialized():
        raise RayNotRunning("raykit.spilled_on_disk")
    session, context = _session._session, ray.get_runtime_context()
    path = None
    if session is not None and session.address == context.gcs_address:
        path = session.ray_context.address_info.get("session_dir")
    if not path:
        path = os.path.join(context.get_temp_dir(), context.get_session_name())
    if not os.path.isdir(path):
        raise RaykitError(
            f"the cluster's session folder {path} is not on this machine: spill files can be "
            "counted only on the node where they are written."
        )
    return sorted(Path(path).glob("ray_spilled_objects*"))


def _spilled_mb() -> float:
    total = 0
    for folder in _spill_dirs():
        for file in folder.rglob("*"):
            try:
                total += file.stat().st_size if file.is_file() else 0
            except FileNotFoundError:  # Ray deleted it while we counted
                pass
    return round(total / MB, 1)


def spilled_on_disk(settle: bool = False, timeout_s: float = 15.0) -> float:
    """The size of this node's spill files now, in MB: objects Ray moved from the full store to
    disk, in the default spill folder (under the session folder).

    Parameters
    ----------
    settle
        Read again until the size has not changed for two readings in a row: Ray writes and
        deletes spill files in the background, deleting with a helper process after its batch
        period (about a second).
    timeout_s
        With ``settle``, how long to keep reading at most.
    """
    _check_flag("settle", settle)
    timeout_s = _check_seconds("timeout_s", timeout_s)
    return _settled(_spilled_mb, timeout_s, quiet=2) if settle else _spilled_mb()
