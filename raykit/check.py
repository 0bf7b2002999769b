"""Self-checks for exercises: a right answer says so; a wrong one shows a hint, not a traceback.

Each check takes the learner's answer, or its name as a string (looked up in the notebook's
namespace, so a blank exercise gets a hint rather than a ``NameError``). A failing check raises
:class:`CheckFailed`, which IPython renders as the hint alone, and which fails a papermill run.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

_MISSING = object()
# Names a running ``raykit.exercise`` block hides from the checks: they still hold what the kit's
# solution put there, so they are not the learner's answer.
_HIDDEN: set[str] = set()


class CheckFailed(AssertionError):
    """An exercise's answer is not right yet; the message says what is wrong and hints at a fix."""

    def __init__(self, problem: str, hint: str | None = None):
        self.problem = problem
        self.hint = hint
        super().__init__(problem + (f" Hint: {hint}" if hint else ""))

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: a learner needs the hint, not a stack.
        lines = [f"\u2717 Not yet: {self.problem}"]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return lines


def passed(message: str) -> None:
    """Say that a check passed (a printed tick: it shows in notebooks, terminals and CI logs)."""
    print(f"\u2713 {message}")


def fail(problem: str, hint: str | None = None) -> NoReturn:
    """Raise :class:`CheckFailed`; for checks written in a lesson itself."""
    raise CheckFailed(problem, hint)


def resolve(answer: Any, depth: int = 2) -> tuple[str, Any]:
    """Return ``(name, value)`` for an answer given as a value or as a name in the caller's
    notebook namespace; the value is a sentinel when the name is not defined."""
    if isinstance(answer, str) and answer.isidentifier():
        if answer in _HIDDEN:
            return f"`{answer}`", _MISSING
        namespace = sys._getframe(depth).f_globals
        return f"`{answer}`", namespace.get(answer, _MISSING)
    return "your answer", answer


def _require_defined(label: str, value: Any, hint: str | None) -> None:
    if value is _MISSING:
        fail(f"{label} is not defined yet.", hint or "run your exercise cell first.")


def is_remote_function(answer: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is a Ray remote function (decorated with ``@ray.remote``)."""
    from ray.remote_function import RemoteFunction

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, RemoteFunction):
        fail(
            f"{label} is a {type(value).__name__}, not a Ray remote function.",
            hint or "decorate the function with @ray.remote, then call it with .remote(...).",
        )
    passed(f"{label} is a remote function.")


def equal(answer: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` equals ``expected`` (an unresolved ObjectRef gets its own hint)."""
    import ray

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if isinstance(value, ray.ObjectRef) or (
        isinstance(value, list | tuple) and any(isinstance(v, ray.ObjectRef) for v in value)
    ):
        fail(
            f"{label} holds ObjectRefs (futures), not values.",
            "pass the refs to ray.get(...) to fetch their values.",
        )
    if value != expected:
        shown = repr(value)
        shown = shown if len(shown) < 80 else shown[:77] + "..."
        fail(f"{label} is {shown}, which is not the expected value.", hint)
    passed(f"{label} is right.")


def same_items(answer: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` holds the same items as ``expected`` in any order: for results
    collected as tasks finish, whose order differs from run to run."""
    import ray

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, list | tuple):
        fail(f"{label} is a {type(value).__name__}, not a list.", hint)
    if any(isinstance(v, ray.ObjectRef) for v in value):
        fail(
            f"{label} holds ObjectRefs (futures), not values.",
            hint or "ray.get each ref that ray.wait returns as ready, and keep its value.",
        )
    same = _same_multiset(list(value), list(expected))
    if not same:
        fail(
            f"{label} has {len(value)} items that are not the expected "
            f"{len(list(expected))}, in any order.",
            hint,
        )
    passed(f"{label} holds the right {len(value)} items.")


def _same_multiset(items: list, expected: list) -> bool:
    try:
        return sorted(items) == sorted(expected)
    except TypeError:  # items that do not sort (dicts...): match them up one by one
        rest = list(expected)
        for item in items:
            if item not in rest:
                return False
            rest.remove(item)
        return not rest


def ran_concurrently(answer: Any, at_least: int = 2, hint: str | None = None) -> None:
    """Pass when at least ``at_least`` of the tasks behind ``answer`` (a list of ObjectRefs) were
    running at the same instant, judged from Ray's own task start and end times.

    On a cluster with fewer CPUs than ``at_least``, as many as it has CPUs must overlap.
    """
    import ray

    from ._timeline import timeline

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs = [value] if isinstance(value, ray.ObjectRef) else value
    if not isinstance(refs, list | tuple) or not all(isinstance(r, ray.ObjectRef) for r in refs):
        fail(
            f"{label} is a {type(value).__name__}; the check needs the list of ObjectRefs that "
            "your .remote() calls returned.",
            hint or "keep the refs: refs = [f.remote(i) for i in ...], then ray.get(refs).",
        )
    _require_ray("raykit.check.ran_concurrently")
    needed = max(1, min(at_least, int(ray.cluster_resources().get("CPU", at_least))))
    if len(refs) < needed:
        fail(
            f"{label} holds {len(refs)} refs; {needed} tasks must run at once.",
            hint or f"start at least {needed} tasks before you wait for any of them.",
        )
    ray.wait(list(refs), num_returns=len(refs))  # all done, so their end times are known
    overlap = timeline(refs).max_concurrency()
    if overlap < needed:
        fail(
            f"at most {overlap} of the tasks in {label} ran at the same time; "
            f"at least {needed} should.",
            hint
            or "call .remote() for every task first, and ray.get the whole list once at "
            "the end: a ray.get inside the loop waits for each task before starting the next.",
        )
    passed(f"{overlap} of the tasks in {label} ran at the same time.")


# -- tasks (lesson 01): judged from Ray's records of each task (its State API) -------------------

_TASK_WAIT_S = 120


def _require_ray(what: str) -> None:
    import ray

    from .exceptions import RayNotRunning

    if not ray.is_initialized():
        raise RayNotRunning(what)


def _task_refs(label: str, value: Any, hint: str | None, at_least: int = 1) -> list:
    """The ObjectRefs of tasks in ``value`` (one ref or a list of them); a hint otherwise."""
    import ray

    from ._ray_private import is_put_ref

    refs = [value] if isinstance(value, ray.ObjectRef) else value
    if not isinstance(refs, list | tuple) or not all(isinstance(r, ray.ObjectRef) for r in refs):
        fail(
            f"{label} is a {type(value).__name__}"
            + (" of values" if isinstance(value, list | tuple) else "")
            + ", not the ObjectRefs that your .remote() calls returned.",
            hint or "keep what .remote() returns: refs = [f.remote(x) for x in ...].",
        )
    if any(is_put_ref(r) for r in refs):
        fail(f"{label} holds a ref made with ray.put; the check needs the refs of tasks.", hint)
    if len(refs) < at_least:
        fail(f"{label} holds {len(refs)} refs; the exercise needs {at_least} tasks or more.", hint)
    return list(refs)


def _task_values(refs: list, label: str, hint: str | None) -> list:
    """``ray.get(refs)``, or a hint when a task failed or did not finish."""
    import ray

    try:
        return ray.get(refs, timeout=_TASK_WAIT_S)
    except ray.exceptions.GetTimeoutError:
        fail(
            f"the tasks in {label} did not finish within {_TASK_WAIT_S} s.",
            hint or "check that they can run at all: ray.wait(refs, timeout=5).",
        )
    except ray.exceptions.RayTaskError as exc:
        lines = str(exc).strip().splitlines()
        which = f"the task behind {label}" if len(refs) == 1 else f"a task in {label}"
        fail(f"{which} failed: {lines[-1] if lines else type(exc).__name__}.", hint)
    except ray.exceptions.RayError as exc:
        fail(f"a task in {label} failed with {type(exc).__name__}.", hint)


def finished_in_order(answer: Any, refs: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` lists the values of the tasks behind ``refs`` in the order in which
    those tasks finished, as Ray's task events record their end times, and that order differs
    from the order of submission: results handled as they finish (``ray.wait``), not as
    submitted (``ray.get`` of the list)."""
    import ray

    from ._tasks import task_records

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs_label, refs_value = resolve(refs)
    _require_defined(refs_label, refs_value, hint)
    task_refs = _task_refs(refs_label, refs_value, hint, at_least=2)
    if not isinstance(value, list | tuple):
        fail(f"{label} is a {type(value).__name__}, not a list of results.", hint)
    if any(isinstance(v, ray.ObjectRef) for v in value):
        fail(
            f"{label} holds ObjectRefs (futures), not values.",
            hint or "ray.get each ref that ray.wait returns as ready, and append its value.",
        )
    _require_ray("raykit.check.finished_in_order")
    values = _task_values(task_refs, refs_label, hint)
    if not _same_multiset(list(value), values):
        fail(
            f"{label} is {list(value)!r:.80}, not the results of the tasks in {refs_label}, "
            f"{values!r:.80}, in some order.",
            hint,
        )
    records = task_records(task_refs, finished=True)
    ends = [records[r.task_id().hex()].end_time_ms for r in task_refs]
    by_end = [v for _, _, v in sorted(zip(ends, range(len(values)), values, strict=True))]
    if by_end == values:
        fail(
            f"the tasks in {refs_label} finished in the order you submitted them, so the order "
            f"of {label} cannot show results handled as they finish.",
            hint or "give the tasks different durations, the longest first.",
        )
    if list(value) != by_end:
        order = "the order you submitted the tasks in" if list(value) == values else "not"
        fail(
            f"{label} is {list(value)!r:.60}, {order}; Ray's task events say they finished in "
            f"the order {by_end!r:.60}.",
            hint
            or "ray.wait(pending, num_returns=1) returns the first ref that is ready: loop until "
            "nothing is pending, and append each value as it comes.",
        )
    passed(
        f"{label} lists the results in the order Ray recorded the tasks finishing, {by_end!r:.60}"
        f", not the order of submission, {values!r:.60}."
    )


def chained(answer: Any, upstream: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is the ObjectRef of a task that got the tasks behind ``upstream`` as
    arguments, refs and not values, and whose value is ``expected``. Ray's task events judge it:
    the task was submitted before the upstream tasks had finished (the driver did not wait for
    them), and Ray held it waiting for its arguments (``PENDING_ARGS_AVAIL``) until they had."""

    from ._tasks import task_records

    label, value = _ref_answer(answer, hint)
    up_label, up_value = resolve(upstream)
    _require_defined(up_label, up_value, hint)
    final = _task_refs(label, value, hint)[0]
    parts = _task_refs(up_label, up_value, hint)
    _require_ray("raykit.check.chained")
    list_hint = hint or (
        "a list of refs reaches a task as a list of refs, not values: pass each ref as its "
        "own argument, f.remote(*refs)."
    )
    result = _task_values([final], label, list_hint)[0]
    if result != expected:
        fail(f"{label} holds {result!r:.60}, not the expected {expected!r:.60}.", hint)
    _task_values(parts, up_label, hint)
    records = task_records([final, *parts], finished=True)
    last = records[final.task_id().hex()]
    ups = [records[p.task_id().hex()] for p in parts]
    first_end = min(u.end_time_ms for u in ups)
    # Ray's records are to the millisecond, and an upstream task's end and its downstream's next
    # step are recorded within one: each question is settled by which of two moments, a
    # SLEEP_S or more apart, a record lies nearer to.
    if 2 * last.creation_time_ms >= max(u.creation_time_ms for u in ups) + first_end:
        fail(
            f"the task behind {label} was submitted after the tasks in {up_label} had "
            "finished: the driver waited for them and passed values.",
            hint or "pass the refs themselves, with no ray.get before the call: f.remote(*refs).",
        )
    steps = sorted(last.events or [], key=lambda e: e["created_ms"])
    args_ready = next(
        (e["created_ms"] for e in steps if e["state"] != "PENDING_ARGS_AVAIL"),
        last.start_time_ms,
    )
    if 2 * args_ready < last.creation_time_ms + first_end:
        fail(
            f"Ray did not hold the task behind {label} until the tasks in {up_label} had "
            "finished: it got no refs as arguments to wait for (a ref inside a list is not "
            "one), so it had to fetch them itself.",
            hint
            or "pass each ref as its own argument, f.remote(*refs): Ray starts the task once "
            "they all exist, and hands it their values.",
        )
    passed(
        f"{label} holds {result!r:.40}: its task was submitted while the {len(parts)} tasks in "
        f"{up_label} still ran, and Ray held it until they had finished."
    )


def reserved_cpus(answer: Any, cpus: float, hint: str | None = None) -> None:
    """Pass when every task behind ``answer`` (a list of ObjectRefs) reserved ``cpus`` CPUs, as
    Ray's State API reports each task's ``required_resources``; says how many of them ran at
    once (from their start and end times) and how many the cluster has room for."""
    import ray

    from ._tasks import task_records
    from ._timeline import timeline
    from .exceptions import ConfigError

    if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
        raise ConfigError(f"cpus={cpus!r} must be a number of CPUs above 0, e.g. cpus=2.")
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs = _task_refs(label, value, hint, at_least=2)
    _require_ray("raykit.check.reserved_cpus")
    records = task_records(refs, finished=False)
    asked = {float((rec.required_resources or {}).get("CPU", 0)) for rec in records.values()}
    if asked != {float(cpus)}:
        shown = " and ".join(f"{c:g}" for c in sorted(asked))
        fail(
            f"the tasks in {label} reserved {shown} CPU each (Ray's record of each task), "
            f"not {cpus:g}.",
            hint
            or f"make the calls through .options(num_cpus={cpus:g}): it changes what those "
            "calls ask the scheduler for.",
        )
    _task_values(refs, label, hint)
    overlap = timeline(refs).max_concurrency()
    room = sum(int(n["Resources"].get("CPU", 0) // cpus) for n in ray.nodes() if n["Alive"])
    passed(
        f"each of the {len(refs)} tasks in {label} reserved {cpus:g} CPUs; at most {overlap} "
        f"ran at once, and this cluster has room for {room}."
    )


def retried(answer: Any, hint: str | None = None) -> None:
    """Pass when the task behind ``answer`` (one ObjectRef) succeeded after at least one failed
    attempt: Ray retried it, as its State API records each attempt."""

    from ._tasks import task_attempts

    label, value = _ref_answer(answer, hint)
    ref = _task_refs(label, value, hint)[0]
    _require_ray("raykit.check.retried")
    attempts = task_attempts(ref)
    states = ", ".join(a.state for a in attempts)
    if attempts[-1].state == "FINISHED" and len(attempts) > 1:
        passed(f"Ray made {len(attempts)} attempts of the task in {label}: {states}.")
        return
    if attempts[-1].state == "FINISHED":
        fail(
            f"the task in {label} succeeded at its first attempt, so nothing was retried.",
            hint or "call the function that fails at first, and keep that call's ref.",
        )
    if len(attempts) == 1:
        fail(
            f"Ray made one attempt of the task in {label}; it failed "
            f"({attempts[0].error_type}) and was not retried.",
            hint
            or "an exception your function raises is retried only with retry_exceptions=True "
            "(max_retries alone covers workers that crash).",
        )
    fail(
        f"Ray made {len(attempts)} attempts of the task in {label} and all failed: {states}.",
        hint or "allow more retries: max_retries counts the retries after the first attempt.",
    )


def is_actor_handle(answer: Any, of_class: str | None = None, hint: str | None = None) -> None:
    """Pass when ``answer`` is a handle to an actor (made with ``SomeClass.remote(...)``), of the
    class named ``of_class`` when given."""
    from ray.actor import ActorClass, ActorHandle

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if isinstance(value, ActorClass):
        fail(
            f"{label} is the actor class itself, not an actor.",
            hint or "create an actor with .remote(): handle = MyClass.remote(...).",
        )
    if not isinstance(value, ActorHandle):
        fail(
            f"{label} is a {type(value).__name__}, not an actor handle.",
            hint or "decorate the class with @ray.remote and create it with MyClass.remote().",
        )
    from ._ray_private import actor_class_name

    class_name = actor_class_name(value)
    if of_class is not None and class_name != of_class:
        fail(f"{label} is a {class_name} actor, not a {of_class}.", hint)
    passed(f"{label} is a handle to a {class_name} actor.")


def actor_keeps_state(
    answer: Any,
    method: str,
    *args: Any,
    step: float | None = None,
    hint: str | None = None,
) -> None:
    """Pass when calling ``method(*args)`` twice on the actor ``answer`` gives two different
    results (its state changed in between), or results ``step`` apart when ``step`` is given.

    The check really calls the method twice, so the actor's state moves on as it would for any
    caller.
    """
    import ray
    from ray.actor import ActorHandle

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, ActorHandle):
        fail(
            f"{label} is a {type(value).__name__}, not an actor handle.",
            hint or "create the actor with MyClass.remote() and keep the handle it returns.",
        )
    bound = getattr(value, method, None)
    if bound is None or not hasattr(bound, "remote"):
        fail(f"the actor in {label} has no method {method!r}.", hint)
    try:
        first = ray.get(bound.remote(*args))
        second = ray.get(bound.remote(*args))
    except (ray.exceptions.RayError, TypeError) as exc:  # TypeError: arguments do not fit
        error = type(exc).__name__
    else:
        error = None
    if error:
        fail(
            f"calling {method}{args!r} on {label} raised {error}.",
            hint or f"try it yourself: ray.get({label.strip('`')}.{method}.remote(...)).",
        )
    shown = f"{first!r} then {second!r}"
    if step is None and first == second:
        fail(
            f"two calls of {method} on {label} returned {shown}: nothing was kept between calls.",
            hint
            or "store the state on self (self.total = ...) in __init__ and update it in "
            "the method.",
        )
    if step is not None and second - first != step:
        fail(f"two calls of {method} on {label} returned {shown}, not {step} apart.", hint)
    passed(f"{label} keeps its state: two calls of {method} returned {shown}.")


def passed_by_reference(answer: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is one ObjectRef that this driver made with ``ray.put``: the value
    is in the object store once, and tasks that take the ref share it instead of a copy each."""
    import ray

    from ._timeline import is_put_ref

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    put_hint = hint or "store the value once with ref = ray.put(value), then pass ref to tasks."
    if isinstance(value, list | tuple) and value and isinstance(value[0], ray.ObjectRef):
        fail(f"{label} is a list of {len(value)} refs; one shared ref is the point.", put_hint)
    if not isinstance(value, ray.ObjectRef):
        fail(
            f"{label} is a {type(value).__name__}, a value: each task call would copy it into "
            "the object store again.",
            put_hint,
        )
    if not is_put_ref(value):
        fail(f"{label} is the result of a task, not an object made with ray.put.", put_hint)
    passed(f"{label} is one object in the store, put once and shared by reference.")


# -- the object store (lesson 03): judged from Ray's State API and the refs themselves -----------


def _holders(object_id: str, rows: list) -> str:
    """Who still holds an object, in words, from its State API rows."""
    import os

    from ._store import ipython_references

    here = [r.reference_type for r in rows if r.pid == os.getpid()]
    said = []
    if "PINNED_IN_MEMORY" in here:
        said.append("a value you got with ray.get (a NumPy view on the store) is alive here")
    if "LOCAL_REFERENCE" in here:
        cache = ipython_references(object_id)
        said.append(
            "a ref to it is alive here: a name, or a list or dict holding it"
            + (f", or IPython's output cache ({', '.join(cache)})" if cache else "")
        )
    if "USED_BY_PENDING_TASK" in here:
        said.append("a task that takes it has not finished")
    if "CAPTURED_IN_OBJECT" in here:
        said.append("its ref is inside another object that is still alive")
    if any(r.pid != os.getpid() for r in rows):
        said.append("a worker or an actor holds a ref to it")
    kinds = sorted({r.reference_type for r in rows})
    return f"{'; '.join(said) or 'something holds it'} (the State API lists {kinds})"


def object_freed(answer: Any, wait_s: float = 5.0, hint: str | None = None) -> None:
    """Pass when ``answer`` is the id (``ref.hex()``) of an object made in this Ray job, and
    Ray's State API lists no reference to it any more: every reference was dropped, and Ray
    freed the object. Freeing is asynchronous: the check gives Ray ``wait_s`` seconds."""
    import ray

    from ._store import _OBJECT_ID, _job_of_object, _object_rows
    from ._wait import wait_until
    from .exceptions import RayNotRunning

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    id_hint = hint or "keep the id, which holds no reference: freed_id = ref.hex(); then del ref."
    if isinstance(value, ray.ObjectRef):
        fail(f"{label} is the ObjectRef itself, which keeps its object alive.", id_hint)
    if not isinstance(value, str) or not _OBJECT_ID.match(value):
        fail(f"{label} is {value!r:.60}, not an object id (56 hex digits).", id_hint)
    if not ray.is_initialized():
        raise RayNotRunning("raykit.check.object_freed")
    if _job_of_object(value) != ray.get_runtime_context().get_job_id():
        fail(f"{label} is not the id of an object made in this notebook's Ray job.", id_hint)
    wait_until(lambda: not _object_rows(value), timeout_s=wait_s, raise_on_timeout=False)
    rows = _object_rows(value)
    if rows:
        fail(
            f"the object {label} names is still referenced {wait_s:g} s later: "
            f"{_holders(value, rows)}.",
            hint or "drop every name that holds the ref or a value from ray.get of it (del x, "
            "or x = None), and do not end a cell with the ref: IPython would keep it.",
        )
    passed(f"the object {label} names is gone: Ray's State API lists no reference to it.")


def not_fetched(answer: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is the ObjectRef a task returned and this process holds no copy of
    its value: Ray's State API lists no ``PINNED_IN_MEMORY`` reference (a live value from
    ``ray.get``) to it here. A value passed from task to task by ref stays in the store."""
    import os

    import ray

    from ._ray_private import is_put_ref
    from ._store import _object_rows

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    pass_hint = hint or (
        "pass the first task's ref straight to the second: second.remote(first.remote(...)); "
        "Ray hands the second task the value, and this notebook never needs it."
    )
    if not isinstance(value, ray.ObjectRef):
        fail(
            f"{label} is a {type(value).__name__}, a value here, not the ObjectRef the first "
            "task returned.",
            pass_hint,
        )
    if is_put_ref(value):
        fail(
            f"{label} was made with ray.put in this notebook, so its value passed through it.",
            pass_hint,
        )
    rows = [r for r in _object_rows(value.hex()) if r.pid == os.getpid()]
    if any(r.reference_type == "PINNED_IN_MEMORY" for r in rows):
        fail(
            f"this notebook holds a copy of {label}'s value: a result of ray.get of it is still "
            "alive here (the State API lists it as PINNED_IN_MEMORY in this process).",
            pass_hint,
        )
    passed(f"{label} is a task's result that this notebook holds only as a reference.")


def resolved_nested(refs: Any, values: Any, hint: str | None = None) -> None:
    """Pass when ``refs`` is the list of ObjectRefs that ``ray.get`` of a task's result gave
    back (refs inside a list are not resolved), made inside that task rather than here, and
    ``values`` holds their values, in the same order."""
    import numpy as np
    import ray

    from .exceptions import RayNotRunning

    label, found = resolve(refs)
    _require_defined(label, found, hint)
    values_label, got = resolve(values)
    _require_defined(values_label, got, hint)
    if not ray.is_initialized():
        raise RayNotRunning("raykit.check.resolved_nested")
    if isinstance(found, ray.ObjectRef):
        fail(
            f"{label} is one ObjectRef, the task's own result.",
            hint or "ray.get it: the list inside comes back with its refs unresolved.",
        )
    if not isinstance(found, list | tuple) or not found:
        fail(f"{label} is a {type(found).__name__}, not a list of ObjectRefs.", hint)
    if not all(isinstance(r, ray.ObjectRef) for r in found):
        fail(
            f"{label} holds values, not ObjectRefs: it should be what ray.get of the task's "
            "result returned.",
            hint or "keep the list from the first ray.get, before you ray.get its refs.",
        )
    here = ray.put(None).task_id()  # what this process puts carries this process's task id
    if any(r.task_id() == here for r in found):
        fail(
            f"{label} holds refs made here, not the ones inside the task's result.",
            hint or "keep what ray.get of the task's ref returns: the task made those refs.",
        )
    if isinstance(got, ray.ObjectRef) or not isinstance(got, list | tuple):
        fail(f"{values_label} is a {type(got).__name__}, not a list of values.", hint)
    if any(isinstance(v, ray.ObjectRef) for v in got):
        fail(
            f"{values_label} holds ObjectRefs: a ref inside a list is not resolved for you.",
            hint or f"ray.get({label.strip('`')}) as well: one call for the whole list.",
        )
    expected = ray.get(list(found))
    same = len(got) == len(expected) and all(
        np.array_equal(g, e) if isinstance(e, np.ndarray) else g == e
        for g, e in zip(got, expected, strict=False)
    )
    if not same:
        fail(f"{values_label} is not the values of the refs in {label}, in order.", hint)
    passed(f"{label} holds {len(found)} refs from inside the result; {values_label}, their values.")


def kuberay_manifest(
    answer: Any,
    kind: str,
    name: str | None = None,
    groups: dict | None = None,
    crd: Any = None,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is a KubeRay manifest (a ``raykit.kuberay`` builder or a dict) of
    ``kind`` with no validation error, named ``name``, whose worker groups have the fields in
    ``groups`` (``{"cpu": {"minReplicas": 1, "cpu": "4"}}``; ``cpu``, ``memory`` and GPUs are
    read from the Ray container's limits)."""
    from .exceptions import ConfigError
    from .kuberay import validate
    from .kuberay._checks import as_manifest

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    try:
        manifest = as_manifest(value)
    except ConfigError:
        fail(
            f"{label} is a {type(value).__name__}, not a KubeRay manifest.",
            hint or "build it with raykit.kuberay.RayCluster(...) (or RayJob, RayService).",
        )
    if manifest.get("kind") != kind:
        fail(f"{label} is a {manifest.get('kind')!r}, not a {kind}.", hint)
    actual_name = (manifest.get("metadata") or {}).get("name")
    if name is not None and actual_name != name:
        fail(f"{label} is named {actual_name!r}, not {name!r}.", hint)
    errors = [i for i in validate(manifest, crd=crd) if i.severity == "error"]
    if errors:
        fail(f"{label} does not validate: {errors[0]}", hint or "fix the field the error names.")
    spec = manifest.get("spec") or {}
    cluster = spec.get("rayClusterSpec") or spec.get("rayClusterConfig") or spec
    found = {g.get("groupName"): g for g in cluster.get("workerGroupSpecs") or []}
    for group_name, fields in (groups or {}).items():
        if group_name not in found:
            fail(
                f"{label} has no worker group {group_name!r} (it has {sorted(found)}).",
                hint or f"add WorkerGroup({group_name!r}, ...) to worker_groups.",
            )
        group = found[group_name]
        containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        limits = (containers[0].get("resources") or {}).get("limits") or {}
        for field, expected in fields.items():
            actual = limits.get(field) if field in ("cpu", "memory", "nvidia.com/gpu") else None
            actual = group.get(field) if actual is None else actual
            if str(actual) != str(expected):
                fail(
                    f"worker group {group_name!r} of {label} has {field}={actual!r}, "
                    f"not {expected!r}.",
                    hint,
                )
    passed(
        f"{label} is a valid {kind} {actual_name!r}"
        + (" with the right groups." if groups else ".")
    )


def best_trial_value(answer: Any, results: Any, key: str, hint: str | None = None) -> None:
    """Pass when ``answer`` equals ``config[key]`` of the best trial in the Tune ``results``
    (a ``ResultGrid``, or its name), as ``results.get_best_result()`` picks it."""
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    results_label, grid = resolve(results)
    _require_defined(
        results_label, grid, hint or "run your experiment and keep its ResultGrid under that name."
    )
    if not hasattr(grid, "get_best_result"):
        fail(f"{results_label} is a {type(grid).__name__}, not Tune results (a ResultGrid).", hint)
    best = grid.get_best_result().config.get(key)
    if value != best:
        fail(
            f"{label} is {value!r}, but the best trial in {results_label} has {key}={best!r}.",
            hint or f'read it with {results_label.strip("`")}.get_best_result().config["{key}"].',
        )
    passed(f"{label} is {key} of the best trial: {best!r}.")


def close(answer: Any, expected: Any, rel_tol: float = 1e-6, hint: str | None = None) -> None:
    """Pass when ``answer`` matches ``expected`` up to a relative tolerance: numbers, or a dict
    or sequence of numbers (dict keys must match exactly; NumPy scalars count as numbers)."""
    import math
    import numbers

    from .exceptions import ConfigError

    if isinstance(rel_tol, bool) or not isinstance(rel_tol, int | float) or rel_tol < 0:
        raise ConfigError(f"rel_tol={rel_tol!r} must be a number >= 0, e.g. rel_tol=0.01.")
    label, value = resolve(answer)
    _require_defined(label, value, hint)

    def _matches(got: Any, want: Any) -> bool:
        if isinstance(want, dict):
            return (
                isinstance(got, dict)
                and set(got) == set(want)
                and all(_matches(got[k], want[k]) for k in want)
            )
        if isinstance(want, list | tuple):
            return (
                isinstance(got, list | tuple)
                and len(got) == len(want)
                and all(_matches(g, w) for g, w in zip(got, want, strict=True))
            )
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return False
        return math.isclose(float(got), float(want), rel_tol=rel_tol, abs_tol=1e-12)

    if not _matches(value, expected):
        # A Dataset or a DataFrame prints as a multi-line table: name its type instead.
        plain = isinstance(value, numbers.Real | dict | list | tuple | str)
        shown = repr(value) if plain else f"a {type(value).__name__}"
        shown = shown if len(shown) < 80 else shown[:77] + "..."
        fail(f"{label} is {shown}, which does not match the expected values.", hint)
    passed(f"{label} is right.")


def scaling_config(
    answer: Any,
    *,
    num_workers: int,
    use_gpu: bool,
    cpus_per_worker: float | None = None,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is a Ray Train ``ScalingConfig`` with ``num_workers`` workers, GPUs on
    or off as ``use_gpu`` says, and ``cpus_per_worker`` CPUs reserved per worker when given."""
    from ray.train import ScalingConfig

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, ScalingConfig):
        fail(
            f"{label} is a {type(value).__name__}, not a ScalingConfig.",
            hint or "from ray.train import ScalingConfig, then ScalingConfig(num_workers=...).",
        )
    if value.num_workers != num_workers:
        fail(f"{label} asks for {value.num_workers} workers, not {num_workers}.", hint)
    if bool(value.use_gpu) != use_gpu:
        fail(
            f"{label} has use_gpu={value.use_gpu!r}; this exercise wants use_gpu={use_gpu}.",
            hint,
        )
    from ._ray_private import resources_per_worker

    per_worker = resources_per_worker(value)
    if cpus_per_worker is not None and per_worker.get("CPU", 0) != cpus_per_worker:
        fail(
            f"each worker of {label} reserves {per_worker.get('CPU', 0):g} CPUs, "
            f"not {cpus_per_worker:g}.",
            hint or 'pass resources_per_worker={"CPU": ...}.',
        )
    passed(f"{label} runs {num_workers} workers, each with {per_worker}.")


# -- a multi-node cluster (lesson 05): judged from where Ray ran things and which nodes died -----

_NODE_WAIT_S = 120


def _dead_node_ids() -> set[str]:
    import ray

    return {n["NodeID"] for n in ray.nodes() if not n["Alive"]}


def _require_cluster(what: str) -> None:
    import ray

    from .exceptions import RayNotRunning

    if not ray.is_initialized():
        raise RayNotRunning(what)


def _ref_answer(answer: Any, hint: str | None, depth: int = 3) -> tuple[str, Any]:
    """``(label, ref)`` for an answer that must be the ObjectRef of one task call."""
    import ray

    label, value = resolve(answer, depth)
    _require_defined(label, value, hint)
    if not isinstance(value, ray.ObjectRef):
        fail(
            f"{label} is a {type(value).__name__}, not the ObjectRef your .remote() call returned.",
            hint or "keep the ref, ref = f.options(...).remote(), and ray.get it on its own line.",
        )
    return label, value


def ran_by_label(answer: Any, labels: dict, hint: str | None = None) -> None:
    """Pass when the task behind ``answer`` (one ObjectRef) was sent with a ``label_selector``
    and ran on a node whose labels, as ``ray.nodes()`` reports them, hold every pair of
    ``labels`` (e.g. ``{"disk": "ssd"}``): where it ran is read from the State API."""
    import ray

    from ._minicluster import task_attempts

    label, ref = _ref_answer(answer, hint)
    _require_cluster("raykit.check.ran_by_label")
    asked = ", ".join(f"{k}={v}" for k, v in labels.items())

    def carries(node: dict) -> bool:
        return all((node.get("Labels") or {}).get(k) == v for k, v in labels.items())

    nodes = ray.nodes()
    matching = [n for n in nodes if n["Alive"] and carries(n)]
    ready, _ = ray.wait([ref], timeout=_NODE_WAIT_S if matching else 5, fetch_local=False)
    if not ready and not matching:
        fail(
            f"the task of {label} has not run: no live node is labelled {asked}, so it waits "
            "for one.",
            hint or f"add such a node first: mc.add_node(labels={labels!r}).",
        )
    if not ready:
        fail(
            f"the task of {label} is still waiting after {_NODE_WAIT_S} s, though a node "
            f"labelled {asked} is alive.",
            hint or "check its label_selector: every label it asks for must be on that node.",
        )
    attempts = task_attempts(ref)
    last = attempts[-1] if attempts else None
    if last is None or last.state != "FINISHED":
        fail(
            f"the task of {label} did not finish"
            + (f" ({last.state}, {last.error_type})." if last else "."),
            hint or f"try it yourself: ray.get({label.strip('`')}).",
        )
    node = {n["NodeID"]: n for n in ray.nodes()}.get(last.node_id, {})
    theirs = {k: v for k, v in (node.get("Labels") or {}).items() if not k.startswith("ray.io/")}
    if not carries(node):
        fail(
            f"the task of {label} ran on node {last.node_id[:8]}, labelled {theirs or 'nothing'}"
            f", not {asked}.",
            hint or f"pass label_selector={labels!r} in .options(...).",
        )
    if not last.label_selector:
        fail(
            f"the task of {label} ran on a node labelled {asked}, but not because it asked for "
            "that label: Ray recorded no label_selector for it.",
            hint or f"send it by label: .options(label_selector={labels!r}).",
        )
    passed(
        f"{label}: the task asked for {last.label_selector} and ran on node {last.node_id[:8]}, "
        f"labelled {theirs}."
    )


def found_dead_nodes(answer: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is a list of Ray's own records of nodes (dicts from ``ray.nodes()``
    or ``NodeState`` from ``ray.util.state.list_nodes()``), exactly the nodes Ray reports dead."""
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    _require_cluster("raykit.check.found_dead_nodes")
    records_hint = hint or (
        "keep Ray's records of the nodes: [n for n in ray.nodes() if not n['Alive']]."
    )
    if not isinstance(value, list | tuple):
        fail(f"{label} is a {type(value).__name__}, not a list of nodes.", records_hint)
    ids = []
    for item in value:
        if isinstance(item, dict) and "NodeID" in item and "Alive" in item:
            ids.append(item["NodeID"])
        elif hasattr(item, "node_id") and hasattr(item, "state"):
            ids.append(item.node_id)
        else:
            fail(
                f"{label} holds a {type(item).__name__}, not a node record as Ray returns it "
                "(with its state, labels and resources).",
                records_hint,
            )
    dead = _dead_node_ids()
    alive = [i for i in ids if i not in dead]
    if alive:
        fail(
            f"{label} holds {len(alive)} node(s) that Ray reports alive, such as {alive[0][:8]}.",
            hint or "keep only the nodes whose 'Alive' is False (state 'DEAD' in list_nodes()).",
        )
    missing = dead - set(ids)
    if missing:
        fail(
            f"{label} misses {len(missing)} of the {len(dead)} node(s) Ray reports dead.",
            hint or "read every node: ray.nodes() lists the dead ones too, with 'Alive' False.",
        )
    shown = sorted(d[:8] for d in dead)
    passed(f"{label} holds the {len(dead)} node(s) Ray reports dead: {shown}.")


def survived_node_loss(answer: Any, hint: str | None = None) -> None:
    """Pass when the task behind ``answer`` (one ObjectRef) lost an attempt with a node that
    Ray reports dead and then finished on a live node: its attempts, from the State API."""
    import ray

    from ._minicluster import read_attempts, task_attempts

    label, ref = _ref_answer(answer, hint)
    _require_cluster("raykit.check.survived_node_loss")
    ready, _ = ray.wait([ref], timeout=_NODE_WAIT_S, fetch_local=False)
    if not ready:
        latest = read_attempts(ref)[-1:]
        shown = f"attempt {latest[0].attempt_number} is {latest[0].state}" if latest else "no"
        fail(
            f"the task of {label} has not finished after {_NODE_WAIT_S} s ({shown}).",
            hint
            or "a retry runs only where its label_selector allows: give it a fallback_strategy "
            "so that it may run on another node once its own has died.",
        )
    try:
        ray.get(ref)
    except ray.exceptions.RayError as exc:
        fail(
            f"the task of {label} failed with {type(exc).__name__} when its node died: Ray did "
            "not run it again.",
            hint or "let Ray retry it: max_retries=3 (Ray's default for tasks); 0 means never.",
        )
    attempts = task_attempts(ref)
    dead = _dead_node_ids()
    lost = [a for a in attempts if a.node_id in dead and a.state == "FAILED"]
    last = attempts[-1]
    if not lost:
        where = "a node that is still alive" if last.node_id not in dead else "its node, in time"
        fail(
            f"no attempt of the task of {label} was lost with a node: Ray ran it "
            f"{len(attempts)} time(s), and it finished on {where}.",
            hint
            or "start it on the node you add, wait until mc.running_on(that_node) shows it, "
            "then mc.kill_node(that_node) while it runs.",
        )
    passed(
        f"{label}: attempt {lost[0].attempt_number} was lost with node {lost[0].node_id[:8]} "
        f"({lost[0].error_type}); attempt {last.attempt_number} FINISHED on node "
        f"{last.node_id[:8]}."
    )


def restarted_elsewhere(answer: Any, method: str = "where", hint: str | None = None) -> None:
    """Pass when the actor ``answer`` answers a call of ``method`` now, Ray restarted it at least
    once, and some of its earlier calls ran on a node that Ray reports dead: it came back on
    another node. Read from the State API (the actor's record and its calls)."""
    import ray
    from ray.actor import ActorClass, ActorHandle

    from ._minicluster import actor_calls, actor_record, read_attempts
    from ._wait import wait_until

    label, handle = resolve(answer)
    _require_defined(label, handle, hint)
    if isinstance(handle, ActorClass):
        fail(
            f"{label} is the actor class itself, not an actor.",
            hint or "create the actor and keep its handle: handle = MyClass.options(...).remote().",
        )
    if not isinstance(handle, ActorHandle):
        fail(f"{label} is a {type(handle).__name__}, not an actor handle.", hint)
    _require_cluster("raykit.check.restarted_elsewhere")
    bound = getattr(handle, method, None)
    if bound is None or not hasattr(bound, "remote"):
        fail(f"the actor in {label} has no method {method}().", hint)
    restart_hint = hint or (
        "create it with .options(max_restarts=3, max_task_retries=3): by default Ray never "
        "restarts an actor."
    )
    call = bound.remote()
    first = wait_until(lambda: read_attempts(call), timeout_s=30, raise_on_timeout=False)
    if not first:
        fail(f"Ray has no record of a call on the actor in {label}.", restart_hint)
    actor = first[0].actor_id
    record = wait_until(
        lambda: (r := actor_record(actor)) and r.state in ("ALIVE", "DEAD") and r,
        timeout_s=_NODE_WAIT_S,
        raise_on_timeout=False,
    ) or actor_record(actor)
    if record is None or record.state != "ALIVE":
        state = record.state if record else "unknown"
        fail(f"the actor in {label} is {state}: Ray did not bring it back.", restart_hint)
    try:
        ray.get(call, timeout=_NODE_WAIT_S)
    except ray.exceptions.RayActorError:  # sent while it was restarting: ask once more
        call = bound.remote()
    try:
        ray.get(call, timeout=_NODE_WAIT_S)
    except (ray.exceptions.RayError, TypeError) as exc:
        fail(f"calling {method}() on {label} raised {type(exc).__name__}.", restart_hint)
    dead = _dead_node_ids()
    before = sorted({c.node_id for c in actor_calls(actor) if c.node_id in dead})
    if record.num_restarts < 1 or not before:
        fail(
            f"the actor in {label} never lost its node: Ray restarted it "
            f"{record.num_restarts} time(s), and none of its calls ran on a node that died.",
            hint
            or f"create it on the node you add, call {method}() once, kill that node with "
            f"mc.kill_node(...), then call {method}() again.",
        )
    passed(
        f"{label}: its calls ran on node {before[0][:8]}, which died; Ray restarted it "
        f"{record.num_restarts} time(s), and it now runs on node {record.node_id[:8]}."
    )


# -- actors (lesson 02): judged from the actors themselves and from Ray's records of them ---------


def _actor_answer(answer: Any, hint: str | None, depth: int = 3) -> tuple[str, Any]:
    """``(label, handle)`` for an answer that must be an actor handle; a hint otherwise."""
    from ray.actor import ActorClass, ActorHandle

    label, value = resolve(answer, depth)
    _require_defined(label, value, hint)
    if isinstance(value, ActorClass):
        fail(
            f"{label} is the actor class itself, not an actor.",
            hint or "create an actor with .remote(): handle = MyClass.remote().",
        )
    if not isinstance(value, ActorHandle):
        fail(
            f"{label} is a {type(value).__name__}, not an actor handle.",
            hint or "create the actor with MyClass.remote() and keep the handle it returns.",
        )
    return label, value


def _ask_actor(handle: Any, method: str, label: str, hint: str | None) -> Any:
    """``ray.get(handle.method.remote())``, or a hint when the actor has no such method or the
    call fails."""
    import ray

    bound = getattr(handle, method, None)
    if bound is None or not hasattr(bound, "remote"):
        fail(f"the actor in {label} has no method {method!r}.", hint)
    try:
        return ray.get(bound.remote(), timeout=60)
    except (ray.exceptions.RayError, TypeError) as exc:
        fail(
            f"calling {method}() on {label} raised {type(exc).__name__}.",
            hint or f"try it yourself: ray.get({label.strip('`')}.{method}.remote()).",
        )


def _state_api_failed(exc: Exception) -> NoReturn:
    fail(
        f"Ray's State API did not answer ({exc}).",
        "run the cells above first: the check reads Ray's records of your actor.",
    )


def actor_counted_every_call(
    answer: Any, method: str, read: str, callers: int = 2, hint: str | None = None
) -> None:
    """Pass when the actor ``answer`` reports (through its method ``read``) as many calls as Ray
    recorded finished calls of ``method`` on it, and those calls came from at least ``callers``
    tasks, not from this notebook: one handle shared by many tasks, and no call lost."""
    from ._actors import actor_id, finished_calls, task_callers
    from ._wait import wait_until
    from .exceptions import RaykitError

    label, handle = _actor_answer(answer, hint)
    name = label.strip("`")
    actor = actor_id(handle)
    last: dict = {}

    def agree() -> bool:
        last["count"] = _ask_actor(handle, read, label, hint)
        last["calls"] = finished_calls(actor, method)
        return last["count"] == len(last["calls"]) and last["count"] > 0

    try:  # task events reach the State API up to a second after each call
        wait_until(agree, timeout_s=8, every_s=0.5, raise_on_timeout=False)
        count, calls = last["count"], last["calls"]
        if not calls and not count:
            fail(
                f"nothing called {method} on {label}: it reads {count!r}.",
                hint
                or f"pass {name} itself into each task as an argument, and call "
                f"counter.{method}.remote() inside the task.",
            )
        if count != len(calls):
            fail(
                f"{label} reads {count!r}, but Ray recorded {len(calls)} finished calls of "
                f"{method} on it.",
                hint
                or "call it with no argument (each call adds 1), and wait for all your tasks "
                "with ray.get before the check.",
            )

        def from_tasks() -> bool:  # the callers' own task records may lag a little too
            last["tasks"] = len(task_callers(calls))
            return last["tasks"] >= callers

        wait_until(from_tasks, timeout_s=5, every_s=0.5, raise_on_timeout=False)
        tasks = last["tasks"]
    except RaykitError as exc:
        _state_api_failed(exc)
    if tasks == 0:
        fail(
            f"all {count} calls of {method} on {label} came from this notebook, none from a task.",
            hint
            or f"write a @ray.remote function that takes the counter and calls "
            f"counter.{method}.remote() in it, then start several with {name} as the argument.",
        )
    if tasks < callers:
        fail(
            f"the calls of {method} on {label} came from {tasks} task(s); at least {callers} "
            "should share the handle.",
            hint or f"start at least {callers} tasks, each given {name}.",
        )
    passed(
        f"{label} reads {count}: Ray recorded {count} calls of {method} on it, made by {tasks} "
        "tasks that shared its handle; none was lost."
    )


def same_actor(
    answer: Any, other: Any, name: str, namespace: str | None = None, hint: str | None = None
) -> None:
    """Pass when ``answer`` and ``other`` are handles to one actor, the live actor Ray knows by
    ``name`` (in ``namespace``; this driver's by default), judged by actor id."""
    import ray

    from ._actors import actor_id, actor_state
    from .exceptions import RaykitError

    label, handle = _actor_answer(answer, hint)
    other_label, other_handle = _actor_answer(other, hint)
    try:
        named = ray.get_actor(name, namespace=namespace)
    except ValueError:
        fail(
            f"no live actor is named {name!r}.",
            hint or f"create it with .options(name={name!r}, get_if_exists=True).remote().",
        )
    wanted = actor_id(named)
    for who, value in ((label, handle), (other_label, other_handle)):
        got = actor_id(value)
        if got != wanted:
            fail(
                f"{who} is the actor {got[:12]}..., not the one named {name!r} ({wanted[:12]}...).",
                hint
                or f"create the actor once with .options(name={name!r}, get_if_exists=True), and "
                f"find it again with ray.get_actor({name!r}) instead of creating another.",
            )
    try:
        record = actor_state(named)
    except RaykitError as exc:
        _state_api_failed(exc)
    if record is None or record.name != name or record.state == "DEAD":
        fail(f"Ray has no live record of an actor named {name!r}.", hint)
    passed(
        f"{label} and {other_label} are one actor, {wanted[:12]}..., the one Ray records under "
        f"the name {name!r} ({record.state})."
    )


def actor_restarted(
    answer: Any, counted: str, read: str, timeout_s: float = 20.0, hint: str | None = None
) -> None:
    """Pass when the State API shows the actor ``answer`` ALIVE after at least one restart, and
    its state started afresh: it reads (method ``read``) fewer than the finished calls of
    ``counted`` that Ray recorded on it, because the calls before the restart were lost with the
    old process."""
    from ._actors import actor_id, actor_state, finished_calls
    from ._wait import wait_until
    from .exceptions import RaykitError

    label, handle = _actor_answer(answer, hint)
    name = label.strip("`")
    restart_hint = hint or (
        f"create it with .options(max_restarts=1), and kill it with "
        f"ray.kill({name}, no_restart=False): plain ray.kill means no restart."
    )
    last: dict = {}

    def settled() -> bool:
        last["record"] = record = actor_state(handle)
        return record is not None and (
            record.state == "DEAD" or (record.state == "ALIVE" and record.num_restarts >= 1)
        )

    try:
        wait_until(settled, timeout_s=timeout_s, every_s=0.25, raise_on_timeout=False)
    except RaykitError as exc:
        _state_api_failed(exc)
    record = last["record"]
    if record is None:
        fail(f"Ray has no record of the actor in {label}.", "run your exercise cell again.")
    if record.state == "DEAD":
        fail(
            f"{label} is DEAD after {record.num_restarts} restart(s): Ray did not bring it back.",
            restart_hint,
        )
    if record.num_restarts < 1:
        fail(
            f"{label} is {record.state} and was never restarted (State API: num_restarts=0).",
            restart_hint,
        )
    value = _ask_actor(handle, read, label, hint)
    found: dict = {}

    def recorded() -> bool:
        found["calls"] = finished_calls(actor_id(handle), counted)
        return len(found["calls"]) > value

    try:
        wait_until(recorded, timeout_s=5, every_s=0.5, raise_on_timeout=False)
    except RaykitError as exc:
        _state_api_failed(exc)
    calls = len(found["calls"])
    if calls == 0:
        fail(
            f"no call of {counted} finished on {label}, so it had no state to lose.",
            hint
            or f"call {name}.{counted}.remote() a few times, and ray.get them, before the kill.",
        )
    if value >= calls:
        fail(
            f"{label} reads {value!r} after {calls} calls of {counted} in all: nothing was lost.",
            hint or f"call {counted} before ray.kill, not only after it.",
        )
    passed(
        f"{label} came back: the State API shows it {record.state} after {record.num_restarts} "
        f"restart(s), and it reads {value!r} after {calls} calls of {counted} in all: __init__ "
        "ran again, so its state started afresh."
    )


def work_spread_over_actors(
    answer: Any, method: str, calls: int, at_least: int = 2, hint: str | None = None
) -> None:
    """Pass when the actors in ``answer`` (a list of handles) ran at least ``calls`` calls of
    ``method`` between them, as Ray recorded them, and at least ``at_least`` of them ran some."""
    from ray.actor import ActorHandle

    from ._actors import actor_id, finished_calls
    from ._wait import wait_until
    from .exceptions import RaykitError

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, list | tuple) or not value:
        fail(
            f"{label} is a {type(value).__name__}; the check needs the list of actor handles "
            "your pool was built from.",
            hint or "actors = [MyClass.remote() for _ in range(3)]; pool = ActorPool(actors).",
        )
    if not all(isinstance(h, ActorHandle) for h in value):
        fail(f"{label} holds something other than actor handles.", hint)
    needed = at_least
    if len(value) < needed:
        fail(
            f"{label} holds {len(value)} actor(s); the work should spread over {needed}.",
            hint or f"make {needed} or more actors and build the pool from all of them.",
        )
    ids = [actor_id(h) for h in value]
    per: list[int] = []

    def enough() -> bool:
        per[:] = [len(finished_calls(a, method)) for a in ids]
        return sum(per) >= calls and sum(1 for n in per if n) >= needed

    try:
        wait_until(enough, timeout_s=10, every_s=0.5, raise_on_timeout=False)
    except RaykitError as exc:
        _state_api_failed(exc)
    if sum(per) < calls:
        fail(
            f"the actors in {label} ran {sum(per)} calls of {method}, fewer than the {calls} "
            "items.",
            hint
            or f"send every item through the pool: pool.map(lambda actor, item: "
            f"actor.{method}.remote(item), items).",
        )
    busy = sum(1 for n in per if n)
    if busy < needed:
        fail(
            f"only {busy} of the {len(value)} actors in {label} did any work "
            f"(calls of {method} per actor: {per}).",
            hint
            or "build the ActorPool from all of them, ActorPool(actors), and let pool.map hand "
            "out the items.",
        )
    passed(f"the {len(value)} actors in {label} shared the work: {per} calls of {method}.")


# -- patterns (lesson 04): batching, back-pressure, nested tasks, from Ray's task records ---------

_PATTERN_WAIT_S = 30.0
_IN_FLIGHT_SLACK_MS = 5


def _records_by_id(task_ids: list[str], *, done: bool, timeout_s: float = _PATTERN_WAIT_S) -> dict:
    """Ray's record (State API, with detail) of the latest attempt of each task in ``task_ids``,
    asked task by task: a lesson's job can hold more tasks than one listing returns. With
    ``done``, waits until each one is FINISHED or FAILED; returns what was reported by then."""
    from ray.util.state import list_tasks

    from ._session import state_api_address
    from ._wait import wait_until

    found: dict = {}

    def reported() -> bool:
        for task_id in task_ids:
            kept = found.get(task_id)
            if kept is not None and (not done or kept.state in ("FINISHED", "FAILED")):
                continue
            rows = list_tasks(
                address=state_api_address(),
                filters=[("task_id", "=", task_id)],
                detail=True,
                raise_on_missing_output=False,
            )
            if rows:
                found[task_id] = max(rows, key=lambda r: r.attempt_number)
        return len(found) == len(task_ids) and (
            not done or all(r.state in ("FINISHED", "FAILED") for r in found.values())
        )

    wait_until(reported, timeout_s=timeout_s, every_s=0.25, raise_on_timeout=False)
    return found


def tasks_returned(answer: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is a list of ObjectRefs, one per item of ``expected``, each returned
    by a task of its own that Ray recorded as finished, and holding that item: e.g. one task per
    chunk. The count is read from the tasks Ray ran, never from a number typed in."""
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    expected = list(expected)
    task_hint = hint or (
        "write a remote function that takes one chunk, call it once per chunk with "
        ".remote(chunk), and keep the refs those calls return."
    )
    refs = _task_refs(label, value, task_hint)
    if len(refs) != len(expected):
        fail(
            f"{label} holds {len(refs)} refs: your code started {len(refs)} tasks, and the work "
            f"is {len(expected)} chunks, one task each.",
            hint or "make one task per chunk, not per number: f.remote(chunk) for each chunk.",
        )
    task_ids = [r.task_id().hex() for r in refs]
    if len(set(task_ids)) != len(task_ids):
        fail(
            f"the {len(refs)} refs in {label} come from {len(set(task_ids))} task(s); the "
            f"exercise wants {len(expected)} tasks, one per chunk.",
            hint,
        )
    _require_ray("raykit.check.tasks_returned")
    values = _task_values(refs, label, hint)
    for index, (got, want) in enumerate(zip(values, expected, strict=True)):
        if got != want:
            fail(
                f"the task behind {label}[{index}] returned {got!r:.60}, not {want!r:.60}.",
                hint
                or "each task gets one chunk and returns the list of its results; keep the refs "
                "in the order of the chunks.",
            )
    records = _records_by_id(task_ids, done=True)
    ran = [r for r in records.values() if r.state == "FINISHED"]
    if len(ran) != len(task_ids):
        fail(
            f"Ray's State API reports {len(ran)} of the {len(task_ids)} tasks behind {label} "
            "as finished.",
            "run your exercise cell again, then this check.",
        )
    names = ", ".join(sorted({r.func_or_class_name for r in ran}))
    passed(
        f"Ray ran {len(ran)} tasks of {names} for {label}, one per chunk, and each returned "
        "its chunk's results."
    )


def in_flight_at_most(answer: Any, limit: int, hint: str | None = None) -> None:
    """Pass when, among the tasks behind ``answer`` (a list of ObjectRefs), never more than
    ``limit`` were in flight at once (submitted and not finished, from the creation and end
    times Ray recorded for each task) and more than one sometimes was: back-pressure with
    ``ray.wait`` that still runs tasks side by side."""
    from ._timeline import _max_overlap
    from .exceptions import ConfigError

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
        raise ConfigError(f"limit={limit!r} must be a whole number of tasks, 2 or more.")
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs = _task_refs(
        label, value, hint or "keep every ref that .remote() returns, in a list of its own."
    )
    if len(refs) <= limit:
        fail(
            f"{label} holds {len(refs)} refs; the exercise needs more than {limit} tasks.",
            hint or f"start more than {limit} tasks: a cap on tasks in flight matters only then.",
        )
    _require_ray("raykit.check.in_flight_at_most")
    _task_values(refs, label, hint)
    task_ids = [r.task_id().hex() for r in refs]
    records = _records_by_id(task_ids, done=True)
    timed = [
        r for r in records.values() if r.creation_time_ms is not None and r.end_time_ms is not None
    ]
    if len(timed) != len(task_ids):
        fail(
            f"Ray's State API has the creation and end times of {len(timed)} of the "
            f"{len(task_ids)} tasks behind {label}.",
            "run your exercise cell again, then this check.",
        )
    # Ray records a task's end and the next task's creation in whole milliseconds, and the owner
    # may hear of an end (and submit the next task) up to a millisecond before the end's record
    # says: a creation that close before an end counts as after it.
    slack = _IN_FLIGHT_SLACK_MS
    peak = _max_overlap(
        (r.creation_time_ms, max(r.creation_time_ms, r.end_time_ms - slack)) for r in timed
    )
    if peak > limit:
        fail(
            f"at one moment {peak} of the tasks in {label} were in flight (submitted and not yet "
            f"finished, as Ray recorded them); the cap is {limit}.",
            hint
            or f"before each .remote() call, if {limit} refs are pending, ray.wait(pending, "
            "num_returns=1) and keep only the refs it returns as not ready (wait while "
            f"len(pending) >= {limit}, not > {limit}).",
        )
    if peak < 2:
        fail(
            f"the tasks in {label} ran one at a time: none was submitted before the previous "
            "one had finished, so the cap was never used.",
            hint
            or "wait only when the cap is reached: a ray.get right after each .remote() waits "
            "for every task.",
        )
    passed(
        f"at most {peak} of the {len(refs)} tasks in {label} were in flight at once (cap "
        f"{limit}), by the creation and end times Ray recorded."
    )


def nested_without_holding(
    answer: Any, resource: str = "GPU", timeout_s: float = 60.0, hint: str | None = None
) -> None:
    """Pass when the tasks behind ``answer`` (a list of ObjectRefs) held none of ``resource``
    themselves, as Ray recorded what each one required, finished, and each started child tasks
    that did hold some: coordinators that cannot deadlock their own children. Stuck tasks are
    cancelled, so the rest of the lesson finds the resource free again."""
    import time

    import ray

    from ._wait import wait_until
    from .exceptions import ConfigError

    if not isinstance(resource, str) or not resource:
        raise ConfigError(f"resource={resource!r} must be a resource name, e.g. 'GPU'.")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0:
        raise ConfigError(f"timeout_s={timeout_s!r} must be a number of seconds above 0.")
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs = _task_refs(
        label, value, hint or "keep the refs of the coordinator calls: [f.remote(i) for i ...]."
    )
    _require_ray("raykit.check.nested_without_holding")
    task_ids = [r.task_id().hex() for r in refs]
    records = _records_by_id(task_ids, done=False)

    def cancel_the_rest() -> None:
        _, pending = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in pending:
            ray.cancel(ref, recursive=True)
        total = ray.cluster_resources().get(resource, 0)
        wait_until(
            lambda: ray.available_resources().get(resource, 0) >= total,
            timeout_s=30,
            raise_on_timeout=False,
        )

    holding = {
        r.func_or_class_name: (r.required_resources or {}).get(resource, 0)
        for r in records.values()
        if (r.required_resources or {}).get(resource, 0) > 0
    }
    if holding:
        cancel_the_rest()
        name, amount = next(iter(holding.items()))
        fail(
            f"each {name} task in {label} holds {amount:g} {resource} while it waits for its "
            f"children (Ray's record: required_resources), so children that need a {resource} "
            "may never find one free. The check cancelled the tasks still waiting.",
            hint
            or f"the coordinator only waits and adds up: leave num_gpus out of its @ray.remote, "
            f"and let only the child tasks ask for a {resource}.",
        )
    _, stuck = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    if stuck:
        cancel_the_rest()
        fail(
            f"{len(stuck)} of the tasks in {label} did not finish within {timeout_s:g} s; the "
            "check cancelled them.",
            hint or "ray.wait(refs, timeout=5) tells you whether they can finish at all.",
        )
    _task_values(refs, label, hint)
    children: dict = {}
    # Child tasks' records arrive up to a second after they end: count them once every task has
    # some and the count has not changed for longer than one report interval (a few intervals
    # when some task has none yet: its children may still be on the way).
    last = {"count": -1, "since": time.monotonic()}

    def children_settled() -> bool:
        from ray.util.state import list_tasks

        from ._session import state_api_address

        for task_id in task_ids:
            rows = list_tasks(
                address=state_api_address(),
                filters=[
                    ("job_id", "=", ray.get_runtime_context().get_job_id()),
                    ("parent_task_id", "=", task_id),
                ],
                detail=True,
                raise_on_missing_output=False,
            )
            children[task_id] = [
                r
                for r in rows
                if r.state == "FINISHED" and (r.required_resources or {}).get(resource, 0) > 0
            ]
        count, now = sum(len(c) for c in children.values()), time.monotonic()
        if count != last["count"]:
            last.update(count=count, since=now)
        return now - last["since"] >= (1.2 if all(children.values()) else 3.0)

    wait_until(children_settled, timeout_s=15, every_s=0.4, raise_on_timeout=False)
    without = [t for t in task_ids if not children.get(t)]
    if without:
        fail(
            f"{len(without)} of the tasks in {label} started no child task that holds a "
            f"{resource}: the {resource} work belongs in child tasks the coordinator waits for.",
            hint
            or f"inside the coordinator, start the children that need a {resource} and "
            "ray.get their results.",
        )
    kids = sum(len(c) for c in children.values())
    passed(
        f"the {len(refs)} tasks in {label} finished holding no {resource}; Ray recorded {kids} "
        f"child tasks that each held one."
    )


# -- lesson 00 (welcome): tasks of the learner's own function, judged from Ray's task records ----


def _shown(items: Any, first: int = 4) -> str:
    """A short listing of ``items`` for a hint: the first few, each cut to 16 characters."""
    items = list(items) if isinstance(items, list | tuple) else [items]
    shown = [f"{item!r:.16}" for item in items[:first]]
    return "[" + ", ".join(shown + (["..."] if len(items) > first else [])) + "]"


def _recorded_function(record: Any) -> str:
    """The function a task ran, as Ray's State API names it (``func_or_class_name``)."""
    return str(record.func_or_class_name or record.name or "?")


def ran_as_tasks(
    answer: Any,
    function: Any,
    values: Any = None,
    count: int | None = None,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` holds the ObjectRefs of tasks that ran the remote function
    ``function`` and finished, as Ray's task records (State API) report them; with ``count``,
    exactly that many; with ``values`` (a list, or its name), when it holds those tasks'
    results in the order of the refs, as one ``ray.get`` of the list returns them."""
    import ray
    from ray.remote_function import RemoteFunction

    from ._tasks import task_records
    from .exceptions import ConfigError

    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ConfigError(f"count={count!r} must be a whole number of tasks, 1 or more.")
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    fn_label, fn = resolve(function)
    _require_defined(fn_label, fn, hint)
    if not isinstance(fn, RemoteFunction):
        fail(
            f"{fn_label} is a {type(fn).__name__}, not a Ray remote function.",
            hint or "decorate the function with @ray.remote, then call it with .remote(...).",
        )
    call = f"{fn_label.strip('`')}.remote(x)" if fn_label.startswith("`") else "f.remote(x)"
    refs = _task_refs(
        label, value, hint or f"keep what the calls return: refs = [{call} for x in ...]."
    )
    if count is not None and len(refs) != count:
        fail(f"{label} holds {len(refs)} refs, not {count}: one task per input.", hint)
    _require_ray("raykit.check.ran_as_tasks")
    results = _task_values(refs, label, hint)
    records = task_records(refs, finished=True)
    # Ray records the function by its qualified name (``cube``; ``Outer.cube`` in a class).
    wanted = {fn.remote.__qualname__, fn.remote.__name__}
    ran = {_recorded_function(rec) for rec in records.values()}
    if not ran <= wanted:
        fail(
            f"the tasks in {label} ran {', '.join(sorted(ran - wanted))}, not {fn_label}.",
            hint or f"start the tasks with {call} and keep the refs it returns.",
        )
    if values is not None:
        values_label, got = resolve(values)
        _require_defined(values_label, got, hint)
        if isinstance(got, ray.ObjectRef) or (
            isinstance(got, list | tuple) and any(isinstance(v, ray.ObjectRef) for v in got)
        ):
            fail(
                f"{values_label} holds ObjectRefs (futures), not values.",
                hint or f"pass the whole list to one ray.get: ray.get({label.strip('`')}).",
            )
        if not isinstance(got, list | tuple) or list(got) != results:
            fail(
                f"{values_label} is {_shown(got)}, not the results of the tasks in {label}, "
                f"{_shown(results)}.",
                hint or f"ray.get({label.strip('`')}) returns their values, in the same order.",
            )
    passed(
        f"{label} holds {len(refs)} tasks of {fn_label}, all finished, as Ray recorded them"
        + (f"; {values_label} holds their results." if values is not None else ".")
    )


def returned_worker_pids(answer: Any, refs: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` lists, for each task behind ``refs`` (a list of ObjectRefs), the id
    of the worker process that ran it, as Ray's task records report it (``worker_pid``); says
    how many worker processes that was, none of them this notebook's own."""
    import os

    import ray

    from ._tasks import task_records
    from ._wait import wait_until

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs_label, refs_value = resolve(refs)
    _require_defined(refs_label, refs_value, hint)
    task_refs = _task_refs(refs_label, refs_value, hint, at_least=2)
    get_hint = f"fetch them with one ray.get: ray.get({refs_label.strip('`')})."
    if isinstance(value, ray.ObjectRef) or (
        isinstance(value, list | tuple) and any(isinstance(v, ray.ObjectRef) for v in value)
    ):
        fail(f"{label} holds ObjectRefs (futures), not values.", hint or get_hint)
    if not isinstance(value, list | tuple):
        fail(f"{label} is a {type(value).__name__}, not a list of process ids.", hint or get_hint)
    _require_ray("raykit.check.returned_worker_pids")
    results = _task_values(task_refs, refs_label, hint)
    here = os.getpid()
    if list(value) != results:
        mine = f" ({here} is this notebook's own process id)" if here in value else ""
        fail(
            f"{label} is {_shown(value)}{mine}, not the results of the tasks in "
            f"{refs_label}, {_shown(results)}.",
            hint or get_hint,
        )
    # The FINISHED state comes from this notebook, which owns the tasks; the worker's process id
    # from the worker that ran each one, in its own batch of events: wait for both.
    reported: dict = {}

    def pids_reported() -> bool:
        records = task_records(task_refs, finished=True)
        reported["pids"] = [records[r.task_id().hex()].worker_pid for r in task_refs]
        return None not in reported["pids"]

    wait_until(pids_reported, timeout_s=_TASK_WAIT_S, every_s=0.25, raise_on_timeout=False)
    recorded = reported["pids"]
    if None in recorded:
        fail(
            f"Ray's State API has not reported which worker ran every task in {refs_label} "
            "yet.",
            "run this check again in a moment.",
        )
    if results != recorded:
        fail(
            f"the tasks in {refs_label} returned {_shown(results)}, but Ray recorded that "
            f"worker processes {_shown(recorded)} ran them.",
            hint
            or "return os.getpid() from inside the remote function: the function runs in the "
            "worker, so there it gives the worker's process id.",
        )
    workers = len(set(recorded))
    passed(
        f"{label} holds the process ids Ray recorded for the {len(recorded)} tasks in "
        f"{refs_label}: {workers} worker process{'es' if workers != 1 else ''}, none of them "
        f"this notebook's (pid {here})."
    )


# -- Ray Data (lesson 06): judged from the Dataset's own plan, its run and the files it wrote ----


def _dataset(answer: Any, hint: str | None) -> tuple[str, Any]:
    """``(label, dataset)`` for an answer that must be a Ray Data ``Dataset``; a hint otherwise.
    Called from a check function, so the notebook's namespace is three frames up."""
    from ray.data import Dataset

    label, value = resolve(answer, depth=3)
    _require_defined(label, value, hint)
    if not isinstance(value, Dataset):
        rows = isinstance(value, list | dict) or hasattr(value, "columns")
        fail(
            f"{label} is a {type(value).__name__}, not a Ray Data Dataset.",
            hint
            or (
                "keep the Dataset itself: leave out the .take_all() or .to_pandas() at the end."
                if rows
                else "build it with ray.data.read_...(...) and the Dataset's methods."
            ),
        )
    return label, value


def _physical_plan(dataset: Any) -> tuple[str, str]:
    """What ``Dataset.explain()`` prints, and its optimized physical plan on one line."""
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        dataset.explain()
    text = printed.getvalue()
    last = text.rsplit("--------", 1)[-1]
    steps = [line.strip().removeprefix("+- ") for line in last.splitlines() if line.strip()]
    return text, " <- ".join(steps)


def _data_files(reads: Any) -> list[str]:
    """The files ``reads`` names (a folder: the files in it; a list: those), resolved and sorted."""
    from pathlib import Path

    from .exceptions import ConfigError

    if isinstance(reads, str | Path) and Path(reads).is_dir():
        return sorted(str(p.resolve()) for p in Path(reads).iterdir() if p.is_file())
    if isinstance(reads, list | tuple) and reads:
        return sorted(str(Path(p).resolve()) for p in reads)
    raise ConfigError(f"reads={reads!r} must be an existing folder or a list of file paths.")


def dataset_plan(
    answer: Any, steps: list[str] | dict[str, str], reads: Any = None, hint: str | None = None
) -> None:
    """Pass when ``answer`` is a Ray Data ``Dataset`` whose plan, as ``Dataset.explain()`` prints
    it, names every operator in ``steps`` (e.g. ``"MapBatches"``, ``"ActorPoolMapOperator"``,
    ``"ReadCSV"``, ``"Aggregate"``) and, when ``reads`` is given (a folder, or a list of files),
    that reads exactly those files (``Dataset.input_files()``).

    ``steps`` may map each operator name to the hint shown when it is missing; ``hint`` is shown
    for the other failures."""
    from pathlib import Path

    from ray.data.dataset import MaterializedDataset

    from .exceptions import ConfigError

    step_hints = dict(steps) if isinstance(steps, dict) else dict.fromkeys(steps or [], None)
    if isinstance(steps, str) or not step_hints or not all(isinstance(s, str) for s in step_hints):
        raise ConfigError(
            f"steps={steps!r} must be a non-empty list of operator names, e.g. ['MapBatches'], "
            "or a dict of operator name to hint."
        )
    expected_files = _data_files(reads) if reads is not None else None
    label, dataset = _dataset(answer, hint)
    if isinstance(dataset, MaterializedDataset):
        fail(
            f"{label} is a materialized dataset (made by .materialize(), or from data this "
            "process held, such as from_pandas): it holds blocks, not the plan that computed "
            "them, so it shows none of the steps the check looks for.",
            hint or "build it with ray.data.read_...(...) and the Dataset's methods, and keep "
            "what the last one returns, without .materialize().",
        )
    text, plan = _physical_plan(dataset)
    missing = [step for step in step_hints if step not in text]
    if missing:
        fail(
            f"the plan of {label} has no {missing[0]} step. Its plan: {plan}.",
            step_hints[missing[0]] or hint,
        )
    if expected_files is not None:
        read = sorted(str(Path(f).resolve()) for f in dataset.input_files())
        if read != expected_files:
            shown = ", ".join(Path(f).name for f in read) or "no files"
            fail(
                f"{label} reads {shown}, not the {len(expected_files)} files of "
                f"{Path(expected_files[0]).parent}.",
                hint or "start from ray.data.read_parquet(...) or read_csv(...) of that folder: "
                "then Ray's read tasks open the files.",
            )
    passed(f"the plan of {label}: {plan}.")


def _first_line(exc: BaseException) -> str:
    """The error a batch function raised, on one line: Ray wraps it (RayTaskError around
    UserCodeException), and its own line is in the text of the traceback Ray carries."""
    import re

    wrappers = ("RayTaskError", "UserCodeException", "RaySystemError")
    found = re.findall(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$", str(exc), re.M)
    own = [(name, text) for name, text in found if not name.split(".")[-1].startswith(wrappers)]
    if own:
        return f"{own[-1][0].split('.')[-1]}: {own[-1][1].strip()}"[:300]
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException) or id(inner) in seen:
            break
        seen.add(id(inner))
        exc = inner
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _same_rows(label: str, got: Any, expected: Any, key: str, rel_tol: float, hint) -> None:
    """Fail unless the DataFrame ``got`` has the rows of ``expected`` (matched by ``key``)."""
    import numpy as np
    import pandas as pd

    if not isinstance(expected, pd.DataFrame) or key not in expected.columns:
        from .exceptions import ConfigError

        raise ConfigError(
            f"expected must be a pandas DataFrame with the key column {key!r}; got "
            f"{type(expected).__name__}."
        )
    absent = [c for c in expected.columns if c not in got.columns]
    if absent:
        columns = ", ".join(map(str, got.columns))
        fail(f"{label} has no column {absent[0]!r}; its columns: {columns}.", hint)
    if len(got) != len(expected):
        fail(f"{label}: {len(got)} rows, not the expected {len(expected)}.", hint)
    # Compared as plain values: Ray Data's to_pandas() gives Arrow-backed dtypes (int64[pyarrow]),
    # which pandas never calls equal to NumPy ones.
    mine = got.set_index(key).sort_index()
    theirs = expected.set_index(key).sort_index()
    if mine.index.tolist() != theirs.index.tolist():
        fail(f"the {key} values of {label} are not those of the expected rows.", hint)
    for column in theirs.columns:
        want, have = theirs[column], mine[column]
        if pd.api.types.is_numeric_dtype(want) and pd.api.types.is_numeric_dtype(have):
            want, have = np.asarray(want, dtype=float), np.asarray(have, dtype=float)
            same = np.isclose(have, want, rtol=rel_tol, atol=1e-12)
        else:
            want, have = want.tolist(), have.tolist()
            same = np.array([h == w for h, w in zip(have, want, strict=True)], dtype=bool)
        if not same.all():
            first = int(np.flatnonzero(~same)[0])
            shown = (theirs.index[first], have[first], want[first])  # NumPy scalars as plain
            at, got_value, want_value = (v.item() if hasattr(v, "item") else v for v in shown)
            fail(
                f"column {column!r} of {label} differs from the expected values in "
                f"{int((~same).sum())} of {len(same)} rows (at {key}={at!r}: "
                f"{got_value!r} instead of {want_value!r}).",
                hint,
            )


def dataset_rows(
    answer: Any, expected: Any, key: str, rel_tol: float = 1e-6, hint: str | None = None
) -> None:
    """Pass when running the Ray Data ``Dataset`` ``answer`` gives the rows of ``expected``, a
    pandas DataFrame computed independently: the same values of the ``key`` column, and in each
    other column of ``expected`` the same values (numbers up to ``rel_tol``). Columns that only
    ``answer`` has are ignored. The check runs the Dataset (``to_pandas()``) as a consumer would."""
    label, dataset = _dataset(answer, hint)
    try:
        got = dataset.to_pandas()
    except Exception as exc:  # the learner's function failed in a Ray task or actor
        fail(
            f"running {label} failed with {_first_line(exc)}",
            hint or f"run {label.strip('`')}.take(2) yourself to see the whole error.",
        )
    _same_rows(label, got, expected, key, rel_tol, hint)
    passed(f"{label} gives the expected {len(expected)} rows.")


def wrote_parquet(
    answer: Any,
    folder: Any,
    expected: Any,
    key: str,
    rel_tol: float = 1e-6,
    hint: str | None = None,
) -> None:
    """Pass when the Ray Data ``Dataset`` ``answer`` was written by Ray Data (its ``stats()`` show
    the write) and the Parquet files in ``folder``, read back here with PyArrow, hold exactly the
    rows of ``expected`` (a pandas DataFrame, compared as in :func:`dataset_rows`)."""
    from pathlib import Path

    import pandas as pd
    import pyarrow.parquet as pq

    label, dataset = _dataset(answer, hint)
    if "Write" not in dataset.stats():
        fail(
            f"{label} has not been written by Ray Data: its stats show no write.",
            hint or f"call {label.strip('`')}.write_parquet(folder): Ray's tasks then write the "
            "files, one or more per block; rows saved with pandas bypass them.",
        )
    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        fail(f"{folder} holds no Parquet files.", hint or "pass that folder to write_parquet.")
    got = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    where = f"the Parquet files in {Path(folder).name}"
    if key in got.columns and got[key].duplicated().any():
        fail(
            f"{where} repeat some rows: files of an earlier write are still there.",
            hint or "write_parquet adds files to the folder by default (mode='append'); "
            "pass mode='overwrite' to replace what is there.",
        )
    _same_rows(where, got, expected, key, rel_tol, hint)
    passed(
        f"{label} was written by Ray Data, {len(files)} file(s); {where}, read back here, "
        f"hold the expected {len(expected)} rows."
    )
