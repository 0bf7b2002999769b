"""A task as Ray's State API reports it: its state now, and every attempt Ray made to run it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from ._ray_private import is_put_ref
from ._session import state_api_address
from ._wait import WaitTimedOut, wait_until
from .exceptions import ConfigError, RayNotRunning

# Task events reach the State API 0.2-1 s after they happen (GUIDE section 1).
DEFAULT_TIMEOUT_S = 10.0
ATTEMPTS_TIMEOUT_S = 60.0
_POLL_S = 0.25
# A failed attempt may still be followed by a retry whose record has not arrived yet: call the
# attempts complete once nothing has changed for longer than one event-report interval (~1 s).
_QUIET_S = 1.2
_DONE = ("FINISHED", "FAILED")
_MAX_TASKS = 10_000


class TaskState(NamedTuple):
    """The state of a task's latest attempt, as Ray's State API reports it.

    Attributes
    ----------
    state
        ``"PENDING_NODE_ASSIGNMENT"``, ``"RUNNING"``, ``"FINISHED"``, ``"FAILED"``...
    error_type
        Why it failed (``"TASK_EXECUTION_EXCEPTION"``, ``"TASK_CANCELLED"``...), else None.
    """

    state: str
    error_type: str | None


class TaskAttempt(NamedTuple):
    """One attempt Ray made to run a task.

    Attributes
    ----------
    attempt_number
        0 for the first run, 1 for the first retry, as Ray numbers them.
    state
        ``"FINISHED"`` or ``"FAILED"`` once the attempt is over.
    error_type
        Why the attempt failed (``"TASK_EXECUTION_EXCEPTION"``: the function raised), else None.
    """

    attempt_number: int
    state: str
    error_type: str | None


def task_state(
    ref: Any, *, wait_for: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> TaskState:
    """The state of the task behind ``ref``, from Ray's State API (``ray.util.state.list_tasks``).

    Ray reports a task's events to the State API up to a second after they happen, so this asks
    again until the task shows up (in state ``wait_for``, when given).

    Parameters
    ----------
    ref
        The ObjectRef a task call returned (``ref = f.remote(...)``).
    wait_for
        A state to wait for, e.g. ``"FAILED"`` after ``ray.cancel(ref)``; ``None`` returns the
        first state reported.
    timeout_s
        How long to keep asking, in seconds.

    Returns
    -------
    TaskState
        ``(state, error_type)`` of the task's latest attempt.

    Raises
    ------
    ConfigError
        ``ref`` is not a task's ObjectRef, ``wait_for`` is not a state Ray reports, or
        ``timeout_s`` is not a number of seconds.
    RayNotRunning
        This process is not connected to Ray.
    WaitTimedOut
        The State API did not report the task (in state ``wait_for``) within ``timeout_s``.
    """
    task_id = _task_id(ref, "ref", "raykit.task_state")
    if wait_for is not None and wait_for not in _task_states():
        raise ConfigError(
            f"wait_for={wait_for!r} is not a task state Ray reports. Use one of "
            f"{', '.join(_task_states())}, e.g. wait_for='FINISHED'."
        )
    _check_timeout(timeout_s)
    _require_ray("raykit.task_state")
    seen: list = []

    def reported():
        rows = _rows_of(task_id)
        if not rows:
            return None
        latest = max(rows, key=lambda r: r.attempt_number)
        seen[:] = [latest.state]
        return latest if wait_for is None or latest.state == wait_for else None

    row = wait_until(reported, timeout_s=timeout_s, every_s=_POLL_S, raise_on_timeout=False)
    if row is None:
        last = f"its last reported state is {seen[0]}" if seen else "it was not reported at all"
        goal = f"in state {wait_for}" if wait_for else "at all"
        raise WaitTimedOut(
            f"Ray's State API did not report the task {task_id} {goal} within {timeout_s:g} s "
            f"({last}).",
            seen[0] if seen else None,
        )
    return TaskState(row.state, row.error_type)


def task_attempts(ref: Any, *, timeout_s: float = ATTEMPTS_TIMEOUT_S) -> list[TaskAttempt]:
    """Every attempt Ray made to run the task behind ``ref``, once the task is over.

    Ray keeps one record per attempt (``attempt_number`` 0, 1, 2...): a task retried after an
    exception (``retry_exceptions=True``) or after its worker died has several. This waits for
    the task to end, then for the State API to report all of its attempts.

    Parameters
    ----------
    ref
        The ObjectRef a task call returned.
    timeout_s
        How long to wait for the task to end and its attempts to be reported, in seconds.

    Returns
    -------
    list of TaskAttempt
        ``(attempt_number, state, error_type)`` per attempt, first attempt first.

    Raises
    ------
    ConfigError
        ``ref`` is not a task's ObjectRef, or ``timeout_s`` is not a number of seconds.
    RayNotRunning
        This process is not connected to Ray.
    WaitTimedOut
        The task did not end, or its attempts were not reported, within ``timeout_s``.
    """
    import ray

    task_id = _task_id(ref, "ref", "raykit.task_attempts")
    _check_timeout(timeout_s)
    _require_ray("raykit.task_attempts")
    deadline = time.monotonic() + timeout_s
    ready, _ = ray.wait([ref], timeout=timeout_s, fetch_local=False)
    if not ready:
        raise WaitTimedOut(f"the task {task_id} did not end within {timeout_s:g} s", [])
    track = {"seen": None, "since": time.monotonic()}

    def complete():
        attempts = sorted(
            TaskAttempt(r.attempt_number, r.state, r.error_type) for r in _rows_of(task_id)
        )
        now = time.monotonic()
        if attempts != track["seen"]:
            track.update(seen=attempts, since=now)
        contiguous = [a.attempt_number for a in attempts] == list(range(len(attempts)))
        if not attempts or not contiguous or attempts[-1].state not in _DONE:
            return None
        if attempts[-1].state == "FINISHED" or now - track["since"] >= _QUIET_S:
            return attempts
        return None

    left = max(deadline - time.monotonic(), 2 * _QUIET_S)
    return wait_until(
        complete,
        timeout_s=left,
        every_s=_POLL_S,
        what=f"Ray's State API reporting every attempt of the task {task_id}",
    )


# -- for the checks: records of many tasks at once ------------------------------------------------


def task_records(refs: Iterable, *, finished: bool, timeout_s: float = ATTEMPTS_TIMEOUT_S) -> dict:
    """Ray's records (``ray.util.state`` TaskState, with detail) of the tasks behind ``refs``, by
    task id: each one's FINISHED attempt when ``finished`` (call ``ray.get`` on the refs first,
    so that every task has one), else its latest attempt reported so far."""
    wanted = {_task_id(ref, "refs", "raykit.check") for ref in refs}

    def found():
        records: dict = {}
        for row in _job_rows():
            if row.task_id not in wanted or (finished and row.state != "FINISHED"):
                continue
            kept = records.get(row.task_id)
            if kept is None or row.attempt_number > kept.attempt_number:
                records[row.task_id] = row
        return records if set(records) == wanted else None

    return wait_until(
        found, timeout_s=timeout_s, every_s=_POLL_S, what="Ray's State API reporting the tasks"
    )


def _rows_of(task_id: str) -> list:
    from ray.util.state import list_tasks

    return list_tasks(
        address=state_api_address(),
        filters=[("task_id", "=", task_id)],
        raise_on_missing_output=False,
    )


def _job_rows() -> list:
    import ray
    from ray.util.state import list_tasks

    return list_tasks(
        address=state_api_address(),
        filters=[("job_id", "=", ray.get_runtime_context().get_job_id())],
        detail=True,
        limit=_MAX_TASKS,
        raise_on_missing_output=False,
    )


def _task_id(ref: Any, argument: str, caller: str) -> str:
    import ray

    if not isinstance(ref, ray.ObjectRef):
        raise ConfigError(
            f"{argument}={ref!r:.60}: {caller} takes the ObjectRef that a task call returned, "
            "e.g. ref = my_function.remote(...)."
        )
    if is_put_ref(ref):
        raise ConfigError(
            f"{argument}: {ref!r} was made with ray.put, so no task ran to make it. Pass the "
            "ObjectRef that a task call (.remote()) returned."
        )
    return ref.task_id().hex()


def _task_states() -> tuple[str, ...]:
    import typing

    from ray.util.state.common import TaskState as RayTaskState

    return typing.get_args(typing.get_type_hints(RayTaskState)["state"])


def _check_timeout(timeout_s: Any) -> None:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s < 0:
        raise ConfigError(f"timeout_s={timeout_s!r} must be a number of seconds, 0 or more.")


def _require_ray(what: str) -> None:
    import ray

    if not ray.is_initialized():
        raise RayNotRunning(what)
