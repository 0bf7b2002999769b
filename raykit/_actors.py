"""Actors as Ray records them: an actor's State API record, the calls it ran, its restarts."""

from __future__ import annotations

import re
import time

from ._session import state_api_address
from .exceptions import ConfigError, RaykitError, RayNotRunning

# The states Ray's State API reports for an actor (ray.util.state.common.ActorState.state).
ACTOR_STATES = ("DEPENDENCIES_UNREADY", "PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD")
# Workers report task events about once a second: a set of calls is complete once it has not
# changed for longer than one report interval and none of them is still on its way.
_SETTLE_S = 1.2
_POLL_S = 0.25
_MAX_TASKS = 10_000
_DONE = {"FINISHED", "FAILED"}
# A handle prints as ``Actor(ClassName, <actor id in hex>)``: the one public place Ray shows the
# id of the actor behind a handle from outside that actor.
_HANDLE_REPR = re.compile(r"^Actor\((?P<cls>.+), (?P<id>[0-9a-f]+)\)$")


class StateApiUnavailable(RaykitError):
    """Ray's State API did not answer (it needs the cluster's dashboard process)."""


def _require_handle(handle, argument: str = "handle"):
    from ray.actor import ActorClass, ActorHandle

    if isinstance(handle, ActorClass):
        raise ConfigError(
            f"{argument}={handle!r} is an actor class, not an actor: pass the handle that "
            "MyClass.remote() returned."
        )
    if not isinstance(handle, ActorHandle):
        raise ConfigError(
            f"{argument}={handle!r} is a {type(handle).__name__}, not an actor handle: pass what "
            "MyClass.remote() (or ray.get_actor(name)) returned."
        )
    return handle


def _require_ray(what: str) -> None:
    import ray

    if not ray.is_initialized():
        raise RayNotRunning(what)


def _check_seconds(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{name}={value!r} must be a number of seconds, 0 or more, e.g. 30.")


def actor_id(handle) -> str:
    """The hex id of the actor behind ``handle``, as Ray prints it in the handle's repr."""
    _require_handle(handle)
    match = _HANDLE_REPR.match(repr(handle))
    if match is None:  # a Ray upgrade changed how handles print: say so, by name
        raise RaykitError(f"cannot read the actor id from the handle {handle!r}")
    return match["id"]


def actor_class(handle) -> str:
    """The class name of the actor behind ``handle``, as Ray prints it in the handle's repr."""
    _require_handle(handle)
    match = _HANDLE_REPR.match(repr(handle))
    if match is None:
        raise RaykitError(f"cannot read the actor class from the handle {handle!r}")
    return match["cls"].rsplit(".", 1)[-1]


def _record(actor: str):
    from ray.util.state import get_actor

    try:
        return get_actor(actor, address=state_api_address())
    except Exception as exc:  # ServerUnavailable, RayStateApiException: no dashboard, a timeout
        raise StateApiUnavailable(
            f"Ray's State API did not answer ({type(exc).__name__}); it needs the cluster's "
            "dashboard, which raykit.init() starts."
        ) from exc


def actor_state(handle):
    """Ray's record of the actor behind ``handle``, from the State API (``ray.util.state``).

    Parameters
    ----------
    handle
        An actor handle, as ``MyClass.remote()`` or ``ray.get_actor(name)`` returned it.

    Returns
    -------
    ray.util.state.common.ActorState or None
        Its fields include ``state`` (``ALIVE``, ``RESTARTING``, ``DEAD``...), ``num_restarts``,
        ``pid``, ``name`` and ``class_name``; None while Ray has no record of it yet.
    """
    _require_handle(handle)
    _require_ray("raykit.actor_state")
    return _record(actor_id(handle))


def wait_for_actor(handle, state: str = "ALIVE", *, restarts: int = 0, timeout_s: float = 30.0):
    """Wait until the State API shows the actor behind ``handle`` in ``state`` after at least
    ``restarts`` restarts, and return its record.

    A dead actor stays dead: while waiting for any other state, a ``DEAD`` record is returned
    at once, so the caller sees why the wait ended (``record.state``).

    Parameters
    ----------
    handle
        An actor handle.
    state
        One of ``ALIVE``, ``RESTARTING``, ``DEAD``, ``PENDING_CREATION``,
        ``DEPENDENCIES_UNREADY``.
    restarts
        How many restarts Ray must have recorded (``num_restarts``) at least.
    timeout_s
        How long to wait, in seconds.

    Returns
    -------
    ray.util.state.common.ActorState

    Raises
    ------
    raykit.WaitTimedOut
        The actor did not get there within ``timeout_s``.
    """
    from ._wait import wait_until

    _require_handle(handle)
    if state not in ACTOR_STATES:
        raise ConfigError(f"state={state!r} is not an actor state: pass one of {ACTOR_STATES}.")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
        raise ConfigError(f"restarts={restarts!r} must be a whole number, 0 or more, e.g. 1.")
    _check_seconds("timeout_s", timeout_s)
    _require_ray("raykit.wait_for_actor")
    actor = actor_id(handle)

    def arrived():
        record = _record(actor)
        if record is None:
            return None
        if record.state == "DEAD" or (
            record.state == state and (record.num_restarts or 0) >= restarts
        ):
            return record
        return None

    wanted = f"{state}" + (f" after {restarts} restart(s)" if restarts else "")
    return wait_until(
        arrived, timeout_s=timeout_s, every_s=_POLL_S, what=f"actor {actor[:12]} {wanted}"
    )


def _list_calls(actor: str) -> list:
    from ray.util.state import list_tasks

    try:
        found = list_tasks(
            address=state_api_address(),
            filters=[("actor_id", "=", actor)],
            detail=True,
            limit=_MAX_TASKS,
            raise_on_missing_output=False,
        )
    except Exception as exc:
        raise StateApiUnavailable(
            f"Ray's State API did not answer ({type(exc).__name__}); it needs the cluster's "
            "dashboard, which raykit.init() starts."
        ) from exc
    return [t for t in found if t.type == "ACTOR_TASK"]


def _method_of(task) -> str:
    return task.name.rsplit(".", 1)[-1]


def actor_calls(
    handle,
    method: str | None = None,
    *,
    finished_only: bool = True,
    settle_s: float = _SETTLE_S,
    timeout_s: float = 10.0,
) -> list:
    """The method calls the actor behind ``handle`` ran, from Ray's task events (State API).

    Task events reach the State API up to a second after a call ends, so this waits until the
    set of calls has not changed for ``settle_s`` seconds and none is still queued or running
    (or until ``timeout_s``), then returns what Ray recorded.

    Parameters
    ----------
    handle
        An actor handle.
    method
        Only calls of this method (e.g. ``"increment"``); every method when None.
    finished_only
        Only attempts that finished (state ``FINISHED``); also failed and running ones if False.
    settle_s
        How long the set must stay unchanged, in seconds.
    timeout_s
        How long to wait at most, in seconds.

    Returns
    -------
    list of ray.util.state.common.TaskState
        One per attempt of a call (a retried call has several), oldest first.
    """
    _require_handle(handle)
    if method is not None and (not isinstance(method, str) or not method.isidentifier()):
        raise ConfigError(
            f"method={method!r} must be a method name as a string, e.g. method='increment'."
        )
    _check_seconds("settle_s", settle_s)
    _check_seconds("timeout_s", timeout_s)
    _require_ray("raykit.actor_calls")
    actor = actor_id(handle)
    deadline = time.monotonic() + timeout_s
    seen: tuple | None = None
    stable_since = time.monotonic()
    while True:
        calls = [t for t in _list_calls(actor) if method is None or _method_of(t) == method]
        key = tuple(sorted((t.task_id, t.attempt_number, t.state) for t in calls))
        now = time.monotonic()
        if key != seen:
            seen, stable_since = key, now
        settled = now - stable_since >= settle_s and all(t.state in _DONE for t in calls)
        if settled or now >= deadline:
            break
        time.sleep(_POLL_S)
    calls.sort(key=lambda t: (t.creation_time_ms or 0, t.attempt_number))
    return [t for t in calls if t.state == "FINISHED"] if finished_only else calls


def finished_calls(actor: str, method: str | None = None) -> list:
    """The finished calls (one per attempt) Ray has recorded so far on the actor ``actor`` (an
    id), without waiting: for checks that poll with a condition of their own."""
    return [
        t
        for t in _list_calls(actor)
        if t.state == "FINISHED" and (method is None or _method_of(t) == method)
    ]


def task_callers(tasks: list) -> set[str]:
    """The ids of the tasks (or actor calls) that submitted ``tasks``; calls this notebook (the
    driver) made have no task record of their own and are left out."""
    from ray.util.state import list_tasks

    callers = set()
    for parent in {t.parent_task_id for t in tasks if t.parent_task_id}:
        found = list_tasks(
            address=state_api_address(),
            filters=[("task_id", "=", parent)],
            raise_on_missing_output=False,
        )
        if any(t.type in ("NORMAL_TASK", "ACTOR_TASK") for t in found):
            callers.add(parent)
    return callers
