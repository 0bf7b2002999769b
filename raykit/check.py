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


def _require_object_id_of_this_job(label: str, value: Any, id_hint: str, what: str) -> None:
    """Fail unless ``value`` is an object id (``ref.hex()``, not the ref) made in this Ray job."""
    import ray

    from ._store import _OBJECT_ID, _job_of_object

    if isinstance(value, ray.ObjectRef):
        fail(f"{label} is the ObjectRef itself, which keeps its object alive.", id_hint)
    if not isinstance(value, str) or not _OBJECT_ID.match(value):
        fail(f"{label} is {value!r:.60}, not an object id (56 hex digits).", id_hint)
    _require_ray(what)
    if _job_of_object(value) != ray.get_runtime_context().get_job_id():
        fail(f"{label} is not the id of an object made in this notebook's Ray job.", id_hint)


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

    from ._store import _object_rows
    from ._wait import wait_until

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    id_hint = hint or "keep the id, which holds no reference: freed_id = ref.hex(); then del ref."
    _require_object_id_of_this_job(label, value, id_hint, "raykit.check.object_freed")
    wait_until(lambda: not _object_rows(value), timeout_s=wait_s, raise_on_timeout=False)
    rows = _object_rows(value)
    if rows:
        fail(
            f"the object {label} names is still referenced {wait_s:g} s later: "
            f"{_holders(value, rows)}.",
            hint
            or "drop every name that holds the ref or a value from ray.get of it (del x, "
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


# -- Ray Tune (lesson 08): judged from the ResultGrid: each trial's config, reports, iterations --


def _result_grid(answer: Any, hint: str | None) -> tuple[str, Any, list]:
    """``(label, grid, trials)`` for an answer that must be the ``ResultGrid`` of a Tune run in
    which no trial failed; a hint otherwise. Called from a check: the namespace is 3 frames up."""
    from ray import tune

    label, value = resolve(answer, depth=3)
    _require_defined(
        label, value, hint or "run your Tuner and keep what .fit() returns under that name."
    )
    if isinstance(value, tune.Tuner):
        fail(f"{label} is the Tuner itself.", "keep what tuner.fit() returns: a ResultGrid.")
    if not isinstance(value, tune.ResultGrid):
        fail(
            f"{label} is a {type(value).__name__}, not the ResultGrid that Tuner.fit() returns.",
            hint,
        )
    trials = list(value)
    failed = [r for r in trials if r.error is not None]
    if failed:
        fail(
            f"{len(failed)} of the {len(trials)} trials in {label} failed: "
            f"{_first_line(failed[0].error)}",
            hint or f"print({label.strip('`')}.errors) to read each error in full.",
        )
    return label, value, trials


def _asha_rungs(grid: Any, max_t: int) -> list[int]:
    """The rungs below ``max_t`` (iterations, ascending) of the ASHA scheduler that the Tuner of
    ``grid`` ran with, read from the ``tuner.pkl`` Tune saves in the experiment folder; ``[]``
    when it ran with another scheduler, another ``max_t``, or the file cannot be read."""
    from pathlib import Path

    import ray.cloudpickle
    from ray.tune.schedulers import AsyncHyperBandScheduler

    try:
        state = ray.cloudpickle.loads(Path(grid.experiment_path, "tuner.pkl").read_bytes())
        scheduler = state["_tune_config"].scheduler
    except Exception:  # a private file of Tune's: any failure means "not known"
        return []
    if not isinstance(scheduler, AsyncHyperBandScheduler) or scheduler._max_t != max_t:
        return []
    return sorted({m for bracket in scheduler._brackets for m, _ in bracket._rungs if m < max_t})


def _iterations(result: Any) -> int:
    return int((result.metrics or {}).get("training_iteration", 0))


def reported_each_iteration(
    answer: Any, metric: str, epochs_key: str = "epochs", hint: str | None = None
) -> None:
    """Pass when every trial of the Tune ``ResultGrid`` ``answer`` reported ``metric`` once per
    epoch: its own record of reports (``Result.metrics_dataframe``) has one row per epoch,
    ``config[epochs_key]`` rows, each with a number for ``metric``."""
    import numbers

    label, _, trials = _result_grid(answer, hint)
    if not trials:
        fail(f"{label} holds no trials.", hint)
    for result in trials:
        epochs = result.config.get(epochs_key)
        curve = result.metrics_dataframe
        reports = 0 if curve is None else len(curve)
        if reports != epochs:
            fail(
                f"a trial of {label} trained config[{epochs_key!r}]={epochs!r} epochs but "
                f"reported {reports} time(s).",
                hint
                or "call tune.report({...}) once per epoch, inside the loop over epochs: "
                "each call is one iteration, which schedulers count.",
            )
        if metric not in curve.columns or not all(
            isinstance(v, numbers.Real) and v == v for v in curve[metric]
        ):
            shown = ", ".join(c for c in result.metrics or {} if c in curve.columns)
            fail(
                f"the trials of {label} did not report a number named {metric!r} each time "
                f"(their last report holds: {shown}).",
                hint or f'report a dict with that key: tune.report({{"{metric}": ...}}).',
            )
    passed(
        f"each of the {len(trials)} trial(s) in {label} reported {metric!r} once per epoch "
        f"(training_iteration 1 to {_iterations(trials[0])})."
    )


def tuned(
    answer: Any, metric: str, mode: str, grid: dict[str, list], hint: str | None = None
) -> None:
    """Pass when the Tune ``ResultGrid`` ``answer`` ran one trial for each combination of the
    values in ``grid`` (``{"lr": [0.001, 0.01]}``), each trial reported ``metric``, and the
    experiment knows its goal: ``get_best_result()`` with no arguments picks the trial with the
    highest (``mode="max"``) or lowest (``"min"``) last value of ``metric``."""
    import itertools
    from collections import Counter

    from .exceptions import ConfigError

    if mode not in ("max", "min") or not isinstance(grid, dict) or not grid:
        raise ConfigError(
            f"mode={mode!r} must be 'max' or 'min' and grid={grid!r} a non-empty dict of "
            "parameter name to its list of values."
        )
    label, results, trials = _result_grid(answer, hint)
    names = list(grid)
    wanted = Counter(itertools.product(*grid.values()))
    got = Counter(tuple(r.config.get(n) for n in names) for r in trials)
    if got != wanted:
        shown = ", ".join(f"{n}={sorted({str(r.config.get(n)) for r in trials})}" for n in names)
        fail(
            f"{label} has {len(trials)} trial(s), with {shown}; the grid asks for "
            f"{len(wanted)}, one per combination of "
            + ", ".join(f"{n} in {v}" for n, v in grid.items())
            + ".",
            hint
            or "give each listed parameter tune.grid_search([...]) in param_space: "
            "one trial per value (tune.choice samples one value per trial instead).",
        )
    values = [(r.metrics or {}).get(metric) for r in trials]
    if any(v is None for v in values):
        fail(f"a trial of {label} reported no {metric!r}.", hint)
    try:
        chosen = results.get_best_result()
    except (ValueError, RuntimeError):
        fail(
            f"{label}.get_best_result() does not know which metric to rank by.",
            hint
            or f'pass tune_config=tune.TuneConfig(metric="{metric}", mode="{mode}") to '
            "the Tuner: schedulers, searchers and get_best_result all read it.",
        )
    target = max(values) if mode == "max" else min(values)
    if chosen.metrics.get(metric) != target:
        fail(
            f"{label}.get_best_result() picks a trial with {metric}="
            f"{chosen.metrics.get(metric)!r}, not the {'highest' if mode == 'max' else 'lowest'}"
            f" ({target!r}).",
            hint or f'the TuneConfig says which way is better: metric="{metric}", mode="{mode}".',
        )
    passed(
        f"{label}: {len(trials)} trials, one per combination; get_best_result() picks "
        f"{metric}={target:.4g} ({mode})."
    )


def stopped_early(answer: Any, max_t: int, hint: str | None = None) -> None:
    """Pass when a scheduler stopped some trials of the Tune ``ResultGrid`` ``answer`` early:
    judged from the iterations each trial ran (its ``training_iteration``), at least one trial
    stopped before ``max_t`` and at least one ran all ``max_t``. When none stopped, it passes
    only if the Tuner ran with an ASHA scheduler of that ``max_t`` with a rung below it, and
    says that this run's scores let every trial through."""
    label, value, trials = _result_grid(answer, hint)
    ran = [_iterations(r) for r in trials]
    if len(ran) < 2:
        fail(f"{label} holds {len(ran)} trial(s); early stopping compares several.", hint)
    shown = ", ".join(map(str, sorted(ran)))
    # Tune's saved state is read only when nothing stopped: the one case it decides.
    rungs = _asha_rungs(value, max_t) if min(ran) >= max_t else []
    if rungs:
        # ASHA lets a trial through a rung when its score is not below the cutoff of the scores
        # recorded there before it; when every trial arrives better than those (rare, and more so
        # the more trials), none is stopped. The answer is right: say so rather than fail it.
        passed(
            f"your Tuner's scheduler is ASHA with max_t={max_t} and a rung at iteration "
            f"{rungs[0]}, and this run it stopped none (iterations: {shown}): each trial reached "
            "the rung with a score at least as good as the cutoff of those before it. Run the "
            "cell again to watch it stop some."
        )
        return
    if min(ran) >= max_t:
        fail(
            f"every trial of {label} ran {max_t} or more iterations (iterations: {shown}): "
            "nothing was stopped early.",
            hint
            or "pass scheduler=ASHAScheduler(max_t=..., grace_period=1) in the TuneConfig; "
            "it ranks trials by the TuneConfig's metric and mode.",
        )
    if max(ran) < max_t:
        fail(
            f"no trial of {label} ran {max_t} iterations (iterations: {shown}).",
            hint
            or "let the best trials run to the end: the trainable's epochs and the "
            "scheduler's max_t should both be that number.",
        )
    stopped = sum(n < max_t for n in ran)
    passed(
        f"{stopped} of the {len(ran)} trials in {label} stopped before {max_t} iterations "
        f"(iterations: {shown})."
    )


def search_space(
    answer: Any,
    grid: dict[str, list],
    sampled: dict[str, tuple[float, float]],
    num_samples: int,
    hint: str | None = None,
) -> None:
    """Pass when the trials of the Tune ``ResultGrid`` ``answer`` cover the ``grid`` values
    (``{"hidden": [16, 64]}``) ``num_samples`` times each, and every trial drew its own value of
    each ``sampled`` parameter (``{"lr": (1e-3, 0.3)}``) within its bounds."""
    import itertools
    from collections import Counter

    label, _, trials = _result_grid(answer, hint)
    combos = list(itertools.product(*grid.values()))
    expected = len(combos) * num_samples
    if len(trials) != expected:
        fail(
            f"{label} has {len(trials)} trials; {len(combos)} grid point(s) repeated "
            f"num_samples={num_samples} times make {expected}.",
            hint
            or "TuneConfig(num_samples=...) repeats the whole grid, and every repeat "
            "samples the other parameters afresh.",
        )
    got = Counter(tuple(r.config.get(n) for n in grid) for r in trials)
    if got != Counter({combo: num_samples for combo in combos}):
        fail(
            f"the trials of {label} do not cover each of "
            + ", ".join(f"{n} in {v}" for n, v in grid.items())
            + f" {num_samples} times.",
            hint or "give each grid parameter tune.grid_search([...]) with exactly those values.",
        )
    for name, (low, high) in sampled.items():
        values = [r.config.get(name) for r in trials]
        if not all(isinstance(v, int | float) and low <= v <= high for v in values):
            fail(
                f"{name} of some trial in {label} is outside {low}..{high}: "
                f"{_shown(sorted(values, key=str))}.",
                hint,
            )
        if len(set(values)) < len(values):
            fail(
                f"{name} takes {len(set(values))} distinct value(s) over {len(values)} trials: "
                "they were listed, not sampled.",
                hint
                or f"tune.loguniform({low}, {high}) draws a new {name} for every trial; "
                "tune.grid_search lists fixed values.",
            )
    passed(
        f"{label}: {len(trials)} trials, each grid point {num_samples} times, and a freshly "
        f"sampled {', '.join(sampled)} in every trial."
    )


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


def _tasks_submitted(record) -> int | None:
    """How many tasks the task of ``record`` (its State API row, with detail) started, from the
    profile events its worker recorded: one ``submit_task`` each. None until its
    ``task:execute`` event is in (the worker reports it after every submission), or where Ray
    records no profile events."""
    events = (record.profiling_data or {}).get("events") or []
    names = [event.get("event_name") for event in events]
    return names.count("submit_task") if "task:execute" in names else None


def nested_without_holding(
    answer: Any, resource: str = "GPU", timeout_s: float = 60.0, hint: str | None = None
) -> None:
    """Pass when the tasks behind ``answer`` (a list of ObjectRefs) held none of ``resource``
    themselves, as Ray recorded what each one required, finished, and each started child tasks
    that did hold some: coordinators that cannot deadlock their own children. Stuck tasks are
    cancelled, so the rest of the lesson finds the resource free again."""
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
    # Child tasks' records reach the GCS when the coordinator's worker next reports its events:
    # about a second after they end, seconds on a loaded host (CI counted 3 of 4 children once,
    # when the check waited for the count to stop changing). The coordinator's own record lists
    # a submit_task event per task it started, once it has its task:execute event: wait for
    # that many children, ended. Where Ray records no profile events (timeline turned off) the
    # wait runs out and the children recorded by then are counted.
    submitted: dict = {}

    def children_settled() -> bool:
        from ray.util.state import list_tasks

        from ._session import state_api_address

        missing = [t for t in task_ids if t not in submitted]
        for task_id, record in _records_by_id(missing, done=False, timeout_s=0).items():
            count = _tasks_submitted(record)
            if count is not None:
                submitted[task_id] = count
        job = ray.get_runtime_context().get_job_id()
        listed = {}
        for task_id in task_ids:
            listed[task_id] = list_tasks(
                address=state_api_address(),
                filters=[("job_id", "=", job), ("parent_task_id", "=", task_id)],
                detail=True,
                raise_on_missing_output=False,
            )
            children[task_id] = [
                r
                for r in listed[task_id]
                if r.state == "FINISHED" and (r.required_resources or {}).get(resource, 0) > 0
            ]
        return all(
            t in submitted
            and len(listed[t]) >= submitted[t]
            and all(r.state in ("FINISHED", "FAILED") for r in listed[t])
            for t in task_ids
        )

    wait_until(children_settled, timeout_s=30, every_s=0.4, raise_on_timeout=False)
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


# -- streams and shared GPUs (lesson 04): a generator task, fractional GPUs, from Ray's records ---

# Ray records a task's creation and end in whole milliseconds, from two processes: a follow-up
# created this close before the generator's recorded end counts as created after it.
_STREAM_SLACK_MS = 20
_ACTOR_WAIT_S = 60.0


def streamed(answer: Any, followups: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is the ``ObjectRefGenerator`` of one generator task, which Ray
    recorded as finished after one attempt, and ``followups`` (a list of ObjectRefs) holds the
    tasks started on its items as they arrived: Ray created the first of them while the
    generator task was still running (the creation and end times it recorded), and they
    returned ``expected``, in order."""
    import ray

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    gen_hint = hint or (
        "write a function that yields each item, decorate it with @ray.remote (no num_returns), "
        "call it once with .remote(...) and keep what that returns: an ObjectRefGenerator."
    )
    if not isinstance(value, ray.ObjectRefGenerator):
        if isinstance(value, ray.ObjectRef):
            what = "one ObjectRef: a task that returns all its items at once, when it ends"
        elif isinstance(value, list | tuple) and any(isinstance(v, ray.ObjectRef) for v in value):
            what = f"a list of {len(value)} ObjectRefs, not the stream of one generator task"
        else:
            what = f"a {type(value).__name__}, not the ObjectRefGenerator of a generator task"
        fail(f"{label} is {what}.", gen_hint)
    f_label, f_value = resolve(followups)
    _require_defined(f_label, f_value, hint)
    expected = list(expected)
    loop_hint = hint or (
        "start one follow-up task per item inside the loop over the stream, "
        "`for ref in stream: refs.append(f.remote(ref))`, and keep the refs in order."
    )
    refs = _task_refs(f_label, f_value, loop_hint, at_least=2)
    if len(refs) != len(expected):
        fail(
            f"{f_label} holds {len(refs)} refs; the stream has {len(expected)} items, one "
            "follow-up task each.",
            loop_hint,
        )
    _require_ray("raykit.check.streamed")
    done = value.completed()  # ready when the generator task has ended
    if not ray.wait([done], timeout=_TASK_WAIT_S)[0]:
        fail(
            f"the generator task behind {label} did not finish within {_TASK_WAIT_S} s.",
            hint or "make it yield a fixed number of items, then return.",
        )
    gen_id = done.task_id().hex()
    ids = [r.task_id().hex() for r in refs]
    if gen_id in ids or len(set(ids)) != len(ids):
        fail(
            f"{f_label} holds refs the generator itself yielded (or one task's refs twice), not "
            "one follow-up task per item.",
            loop_hint,
        )
    values = _task_values(refs, f_label, hint)
    for index, (got, want) in enumerate(zip(values, expected, strict=True)):
        if got != want:
            fail(
                f"the task behind {f_label}[{index}] returned {got!r:.40}, not {want!r:.40}.",
                hint
                or "hand each item to the follow-up task as it is (pass the ref itself), in "
                "the order the stream yields them.",
            )
    records = _records_by_id([gen_id, *ids], done=True)
    gen = records.get(gen_id)
    created = [records[t].creation_time_ms for t in ids if t in records]
    if gen is None or gen.end_time_ms is None or None in created or len(created) != len(ids):
        fail(
            f"Ray's State API has not reported the generator task behind {label} and every "
            f"task in {f_label} with their times yet.",
            "run this check again in a moment.",
        )
    if gen.state != "FINISHED" or gen.attempt_number:
        fail(
            f"Ray recorded the generator task behind {label} as {gen.state} after "
            f"{gen.attempt_number + 1} attempt(s); the exercise wants it to run once, to its end.",
            hint or "make the generator yield every item without raising.",
        )
    first = min(created)
    if first > gen.end_time_ms - _STREAM_SLACK_MS:
        fail(
            f"Ray created the first task in {f_label} {(first - gen.end_time_ms) / 1e3:+.3f} s "
            f"after the generator task behind {label} ended (the times Ray recorded): the items "
            "were handed on once the stream was over, not as they came.",
            hint
            or "start each follow-up inside `for ref in stream:`, not after list(stream), and "
            "let the generator pause (time.sleep) before each yield, so that it is still "
            "running while you hand its first items on.",
        )
    ran_s = (gen.end_time_ms - (gen.start_time_ms or gen.creation_time_ms)) / 1e3
    passed(
        f"Ray ran {gen.func_or_class_name} once, as one generator task of {ran_s:.2f} s; the first "
        f"task in {f_label} was created {(gen.end_time_ms - first) / 1e3:.2f} s before it ended, "
        f"and the {len(refs)} follow-ups returned the right values."
    )


def _actor_records(actor_ids: list[str]) -> dict:
    """Ray's record (State API, with detail) of each actor in ``actor_ids``, by id."""
    from ray.util.state import list_actors

    from ._session import state_api_address

    found = {}
    for actor in actor_ids:
        rows = list_actors(
            address=state_api_address(),
            filters=[("actor_id", "=", actor)],
            detail=True,
            raise_on_missing_output=False,
        )
        if rows:
            found[actor] = rows[0]
    return found


def _require_gpu_counts(count: Any, per_gpu: Any) -> None:
    from .exceptions import ConfigError

    for name, number, least in (("count", count, 1), ("per_gpu", per_gpu, 2)):
        if isinstance(number, bool) or not isinstance(number, int) or number < least:
            raise ConfigError(f"{name}={number!r} must be a whole number, {least} or more.")


def _judge_gpu_asks(
    records: list, who: str, per_gpu: int, share_hint: str, cpu_hint: str, stop: Any
) -> None:
    """Through ``stop`` unless every record (Ray's, of an actor) asks for ``1 / per_gpu`` GPU
    and the CPUs they hold for their whole life fit the cluster."""
    import ray

    share = 1 / per_gpu
    asks = [(r.required_resources or {}).get("GPU", 0) for r in records]
    if not all(asks):
        stop(
            f"{asks.count(0)} of {who} ask for no GPU (Ray's record: required_resources), so "
            "the scheduler gives them none.",
            share_hint,
        )
    wrong = sorted({a for a in asks if abs(a - share) > 1e-9})
    if wrong:
        shown = " or ".join(f"{a:g}" for a in wrong)
        stop(
            f"{who} ask for {shown} GPU each (Ray's record: required_resources); "
            f"{per_gpu} to a GPU is {share:g} each.",
            share_hint,
        )
    # An actor that asks for any resource also holds 1 CPU for its life unless it says otherwise
    # (a Serve replica, 1 CPU unless its ray_actor_options say): the CPUs run out before the GPUs.
    cpus = sum((r.required_resources or {}).get("CPU", 0) for r in records)
    total_cpus = ray.cluster_resources().get("CPU", 0)
    if cpus > total_cpus + 1e-9:
        stop(
            f"{who} ask for {cpus:g} CPUs in all, held for their whole life (Ray's record: "
            f"required_resources), and the cluster has {total_cpus:g}: they cannot all run.",
            cpu_hint,
        )


def _wait_all_alive(ids: list[str], who: str, stop: Any, hint: str) -> None:
    """Wait until Ray records every actor in ``ids`` ALIVE; through ``stop`` after a while."""
    import ray

    from ._wait import wait_until

    states: dict = {}

    def all_alive() -> bool:
        states.update({i: r.state for i, r in _actor_records(ids).items()})
        return all(states.get(i) == "ALIVE" for i in ids)

    wait_until(all_alive, timeout_s=_ACTOR_WAIT_S, every_s=0.5, raise_on_timeout=False)
    waiting = [states.get(i) for i in ids if states.get(i) != "ALIVE"]
    if waiting:
        free = ray.available_resources()
        stop(
            f"{len(waiting)} of {who} were not running after {_ACTOR_WAIT_S:g} s (states "
            f"{', '.join(sorted(set(map(str, waiting))))}; {free.get('GPU', 0):g} GPU and "
            f"{free.get('CPU', 0):g} CPU free).",
            hint,
        )


def _judge_gpu_sharing(
    handles: list, who: str, noun: str, per_gpu: int, share_hint: str, stop: Any
) -> str:
    """Ask each actor (inside its process) which GPU it was given; through ``stop`` unless every
    GPU used holds exactly ``per_gpu`` of them. Returns the sharing, e.g. ``GPU 0: 2 actors,
    GPU 1: 2 actors`` (``noun`` names them; a node is named where there are several)."""
    from collections import Counter

    import ray

    def gpu_view(_actor: Any) -> tuple:  # runs inside each actor (Ray's __ray_call__)
        import os

        import ray

        node = ray.get_runtime_context().get_node_id()
        return node, [str(g) for g in ray.get_gpu_ids()], os.environ.get("CUDA_VISIBLE_DEVICES")

    try:
        views = ray.get([h.__ray_call__.remote(gpu_view) for h in handles], timeout=_ACTOR_WAIT_S)
    except ray.exceptions.RayError as exc:
        stop(f"asking {who} for their GPU ids failed ({type(exc).__name__}).", share_hint)
    if any(len(gpus) != 1 for _, gpus, _ in views):
        given = sorted({tuple(gpus) for _, gpus, _ in views})
        stop(f"{who} were given GPU ids {given}, not one GPU each.", share_hint)
    per = Counter((node, gpus[0]) for node, gpus, _ in views)
    nodes = {node for node, _ in per}

    def gpu_name(key: tuple) -> str:
        return f"GPU {key[1]}" + (f" of node {key[0][:8]}" if len(nodes) > 1 else "")

    shared = ", ".join(f"{gpu_name(k)}: {n} {noun}" for k, n in sorted(per.items()))
    if any(n != per_gpu for n in per.values()):
        stop(f"{who} share GPUs unevenly ({shared}).", share_hint)
    return shared


def gpus_shared(answer: Any, count: int, per_gpu: int = 2, hint: str | None = None) -> None:
    """Pass when ``answer`` is a list of ``count`` actor handles, each alive and holding
    ``1 / per_gpu`` of a GPU as Ray recorded what it required (State API), and the GPU ids the
    actors were given (``ray.get_gpu_ids()``, asked in each actor) put exactly ``per_gpu`` of
    them on every GPU they use. A failed check stops the answer's actors, so that their GPUs are
    free for the next try."""
    import ray
    from ray.actor import ActorClass, ActorHandle

    from ._actors import actor_id
    from ._wait import wait_until

    _require_gpu_counts(count, per_gpu)
    label, value = resolve(answer)
    _require_defined(label, value, hint)
    share = 1 / per_gpu
    share_hint = hint or (
        f"ask for a share of a GPU when you start each actor: "
        f"MyActor.options(num_gpus={share:g}).remote(), {per_gpu} of them to one GPU."
    )
    handles = list(value) if isinstance(value, list | tuple) else [value]
    if any(isinstance(h, ActorClass) for h in handles):
        fail(f"{label} holds an actor class, not actors.", share_hint)
    if not isinstance(value, list | tuple) or not all(isinstance(h, ActorHandle) for h in handles):
        fail(
            f"{label} is a {type(value).__name__}, not a list of actor handles.",
            hint or f"keep the handles: [MyActor.options(...).remote() for _ in range({count})].",
        )
    _require_ray("raykit.check.gpus_shared")

    def stop(problem: str, fix: str | None) -> NoReturn:
        for handle in handles:
            try:
                ray.kill(handle)
            except Exception:  # noqa: BLE001 - an actor already gone has nothing to stop
                pass
        fail(f"{problem} The check stopped these actors, so what they held is free again.", fix)

    if len(handles) != count:
        stop(f"{label} holds {len(handles)} actors; the exercise starts {count}.", share_hint)
    ids = [actor_id(h) for h in handles]

    records: dict = {}

    def reported() -> bool:
        records.update(_actor_records([i for i in ids if i not in records]))
        return len(records) == len(ids)

    wait_until(reported, timeout_s=_PATTERN_WAIT_S, every_s=0.25, raise_on_timeout=False)
    if len(records) != len(ids):
        fail(
            f"Ray's State API has no record of {len(ids) - len(records)} of the actors in {label}.",
            "run your exercise cell again, then this check.",
        )
    who = f"the actors in {label}"
    cpu_hint = hint or (
        "an actor that asks for a GPU also holds 1 CPU unless told otherwise: ask for "
        f"num_cpus=0 as well, .options(num_gpus={share:g}, num_cpus=0)."
    )
    _judge_gpu_asks([records[i] for i in ids], who, per_gpu, share_hint, cpu_hint, stop)
    _wait_all_alive(
        ids,
        who,
        stop,
        hint
        or "other actors may still hold the GPUs or CPUs yours need: stop them with "
        "ray.kill(actor), then start yours again.",
    )
    shared = _judge_gpu_sharing(handles, who, "actors", per_gpu, share_hint, stop)
    passed(
        f"the {count} actors in {label} each hold {share:g} GPU (Ray's record), {per_gpu} to a "
        f"GPU by the ids ray.get_gpu_ids() gives in each: {shared}."
    )


# -- Serve replicas on shared GPUs (lesson 04): from Ray's records of the replica actors ---------


def _replica_records(app: str, deployment: str) -> list:
    """Ray's records (State API, with detail) of the replica actors of ``deployment`` in ``app``
    not yet DEAD: actors whose class name is ``ServeReplica:<app>:<deployment>``."""
    from ray.util.state import list_actors

    from ._session import state_api_address

    return list_actors(
        address=state_api_address(),
        filters=[
            ("class_name", "=", f"ServeReplica:{app}:{deployment}"),
            ("state", "!=", "DEAD"),
        ],
        detail=True,
        raise_on_missing_output=False,
    )


def serve_gpus_shared(answer: Any, count: int, per_gpu: int = 2, hint: str | None = None) -> None:
    """Pass when the deployment behind the DeploymentHandle ``answer`` (what ``serve.run``
    returned) runs ``count`` replicas, each a replica actor that Ray recorded asking for
    ``1 / per_gpu`` of a GPU (State API: ``required_resources``), all alive, and the GPU ids the
    replicas were given (``ray.get_gpu_ids()``, asked in each replica's process) put exactly
    ``per_gpu`` of them on every GPU they use. What the replicas answer is not asked. A failed
    check deletes the application (``serve.delete``), so that its GPUs are free for the next
    try."""
    import ray
    from ray import serve

    from ._serve import app_overview
    from ._wait import wait_until

    _require_gpu_counts(count, per_gpu)
    label, handle = _serve_handle(answer, hint)
    _require_ray("raykit.check.serve_gpus_shared")
    app, deployment = handle.app_name, handle.deployment_name
    share = 1 / per_gpu
    share_hint = hint or (
        f"deploy {count} replicas of {share:g} GPU each, {per_gpu} to a GPU: "
        f"{deployment}.options(num_replicas=..., ray_actor_options={{'num_gpus': ..., "
        "'num_cpus': 0}).bind()."
    )
    overview = app_overview(app)
    if overview is None or deployment not in overview.deployments:
        fail(
            f"Serve runs no application {app!r} with a deployment {deployment!r} (serve.status() "
            "does not list it): was it deleted, or Serve shut down?",
            hint or "run your exercise cell again, then this check.",
        )

    def stop(problem: str, fix: str | None) -> NoReturn:
        serve.delete(app)
        fail(
            f"{problem} The check deleted application {app!r}, so what its replicas held is "
            "free again.",
            fix,
        )

    # Serve's count of the deployment's replicas, and Ray's records of their actors, agree once
    # replicas of an earlier version have stopped.
    def settled() -> list | None:
        now = app_overview(app)
        if now is None or deployment not in now.deployments:
            return None
        found = _replica_records(app, deployment)
        wanted = sum(now.deployments[deployment].replica_states.values())
        return found if found and len(found) == wanted else None

    records = wait_until(settled, timeout_s=_PATTERN_WAIT_S, every_s=0.5, raise_on_timeout=False)
    if not records:
        fail(
            f"Ray's State API and serve.status() do not agree yet on the replicas of "
            f"{deployment!r} in {app!r}.",
            "run this check again in a moment.",
        )
    who = f"the replicas of {deployment} behind {label}"
    if len(records) != count:
        stop(f"{deployment} runs {len(records)} replicas; the exercise serves {count}.", share_hint)
    cpu_hint = hint or (
        "a Serve replica holds 1 CPU unless its ray_actor_options name num_cpus, and the "
        "ray_actor_options given to .options(...) replace the decorator's whole dict: add "
        "'num_cpus': 0 to them."
    )
    _judge_gpu_asks(records, who, per_gpu, share_hint, cpu_hint, stop)
    _wait_all_alive(
        [r.actor_id for r in records],
        who,
        stop,
        hint
        or "other actors may still hold the GPUs or CPUs your replicas need: stop them "
        "(ray.kill, serve.delete), then deploy yours again.",
    )
    try:
        handles = [ray.get_actor(r.name, namespace=r.ray_namespace) for r in records]
    except ValueError:  # a replica stopped since Ray listed it: Serve is still changing
        fail(f"a replica of {deployment!r} stopped during the check.", "run it again.")
    shared = _judge_gpu_sharing(handles, who, "replicas", per_gpu, share_hint, stop)
    passed(
        f"the {count} replicas of {deployment} behind {label} each hold {share:g} GPU (Ray's "
        f"record of each replica actor), {per_gpu} to a GPU by the ids ray.get_gpu_ids() gives "
        f"in each: {shared}."
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
            f"Ray's State API has not reported which worker ran every task in {refs_label} yet.",
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
            hint
            or "build it with ray.data.read_...(...) and the Dataset's methods, and keep "
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
                hint
                or "start from ray.data.read_parquet(...) or read_csv(...) of that folder: "
                "then Ray's read tasks open the files.",
            )
    passed(f"the plan of {label}: {plan}.")


def _first_line(exc: BaseException) -> str:
    """The error a batch function raised, on one line: Ray wraps it (RayTaskError around
    UserCodeException), and its own line is in the text of the traceback Ray carries."""
    import re

    from .exceptions import first_lines, one_line

    wrappers = ("RayTaskError", "UserCodeException", "RaySystemError")
    text = str(exc)
    found = re.finditer(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$", text, re.M)
    own = [m for m in found if not m.group(1).split(".")[-1].startswith(wrappers)]
    if own:
        name = own[-1].group(1).split(".")[-1]
        return f"{name}: {first_lines(text[own[-1].start(2) :])}"[:300]
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException) or id(inner) in seen:
            break
        seen.add(id(inner))
        exc = inner
    return one_line(exc)


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
    got = _run_to_pandas(label, dataset, hint)
    _same_rows(label, got, expected, key, rel_tol, hint)
    passed(f"{label} gives the expected {len(expected)} rows.")


def _run_to_pandas(label: str, dataset: Any, hint: str | None) -> Any:
    """Run the learner's Dataset as a consumer would; its failure in a Ray task is a CheckFailed."""
    try:
        return dataset.to_pandas()
    except Exception as exc:  # the learner's function failed in a Ray task or actor
        fail(
            f"running {label} failed with {_first_line(exc)}",
            hint or f"run {label.strip('`')}.take(2) yourself to see the whole error.",
        )


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
            hint
            or f"call {label.strip('`')}.write_parquet(folder): Ray's tasks then write the "
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
            hint
            or "write_parquet adds files to the folder by default (mode='append'); "
            "pass mode='overwrite' to replace what is there.",
        )
    _same_rows(where, got, expected, key, rel_tol, hint)
    passed(
        f"{label} was written by Ray Data, {len(files)} file(s); {where}, read back here, "
        f"hold the expected {len(expected)} rows."
    )


# -- Ray Data joins (lesson 06): judged from the Dataset's plan (a Join step) and its rows -------


def dataset_join(
    answer: Any,
    expected: Any,
    key: str,
    rel_tol: float = 1e-6,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is a Ray Data ``Dataset`` whose plan joins two datasets (a ``Join``
    step: ``Dataset.join`` ran in Ray Data, not a merge in pandas) and whose rows, when run, are
    those of ``expected``: a pandas DataFrame computed independently (with ``pandas.merge``),
    one row per value of its ``key`` column, compared as in :func:`dataset_rows` (numbers up to
    ``rel_tol``; columns only ``answer`` has are ignored). The files the plan reads are not
    compared: ``Dataset.input_files()`` lists none once a plan joins or aggregates."""
    import re

    import pandas as pd
    from ray.data.dataset import MaterializedDataset

    from .exceptions import ConfigError

    if not isinstance(expected, pd.DataFrame) or key not in expected.columns:
        raise ConfigError(
            f"expected must be a pandas DataFrame with the key column {key!r}; got "
            f"{type(expected).__name__}."
        )
    label, dataset = _dataset(answer, hint)
    join_hint = hint or (
        "join in Ray Data: left.join(right, join_type='inner', num_partitions=2, on=('key',)) "
        "shuffles both sides by the key; a merge done in pandas, or a lookup inside a map "
        "function, leaves no Join step in the plan."
    )
    if isinstance(dataset, MaterializedDataset):
        fail(
            f"{label} is a materialized dataset (made by .materialize(), or from data this "
            "process held, such as from_pandas): it holds rows, not the plan that joined them.",
            join_hint,
        )
    text, plan = _physical_plan(dataset)
    if not re.search(r"\bJoin\b", text):
        fail(f"the plan of {label} has no Join step. Its plan: {plan}.", join_hint)
    got = _run_to_pandas(label, dataset, hint)
    if key in got.columns and not expected[key].duplicated().any() and got[key].duplicated().any():
        repeated = got[key][got[key].duplicated()].iloc[0]
        repeated = repeated.item() if hasattr(repeated, "item") else repeated
        fail(
            f"{label} has {len(got)} rows, and {key}={repeated!r} in more than one of them; "
            f"the expected rows hold each {key} once.",
            hint
            or "a join pairs each left row with every right row of the same key: join a table "
            "that holds each key once (aggregate it first), or group the joined rows.",
        )
    _same_rows(label, got, expected, key, rel_tol, hint)
    passed(
        f"{label} joins in Ray Data (its plan: {plan}) and gives the expected {len(expected)} rows."
    )


# -- observability (lesson 10): judged from Ray's State API, its logs and its metrics ------------

_METRICS_WAIT_S = 60.0


def _function_name(function: Any, label: str, hint: str | None) -> str:
    """The name Ray's records give the tasks of ``function``, a remote function."""
    remote = getattr(function, "remote", None)
    name = getattr(remote, "__name__", None)
    if not name:
        fail(f"{label} is a {type(function).__name__}, not a Ray remote function.", hint)
    return name


def _task_record_id(value: Any) -> str | None:
    """The task id in a State API task record (TaskState or its dict) or an id; else None."""
    import re

    task_id = getattr(value, "task_id", None)
    if task_id is None and isinstance(value, dict):
        task_id = value.get("task_id")
    if task_id is None and isinstance(value, str):
        task_id = value
    return task_id if isinstance(task_id, str) and re.fullmatch(r"[0-9a-f]{48}", task_id) else None


def found_failed_task(answer: Any, log: Any, function: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is Ray's record of a task of ``function`` that FAILED (a row that
    ``list_tasks`` returned, its dict, or its task id), as the State API lists it now, and
    ``log`` (a string) holds what that task wrote to its stderr, as ``get_log(task_id=...,
    suffix="err")`` returns it."""
    from ray.util.state import get_log, list_tasks

    from ._session import state_api_address

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    log_label, text = resolve(log)
    _require_defined(log_label, text, hint)
    name = _function_name(function, "function", hint)
    row_hint = hint or (
        "keep one row of what list_tasks returns, filtered on the function and on the state: "
        f"list_tasks(filters=[('func_or_class_name', '=', '{name}'), ('state', '=', 'FAILED')])"
        "[0]."
    )
    if isinstance(value, list | tuple):
        fail(f"{label} is a list of {len(value)} records; keep the failed task's one.", row_hint)
    task_id = _task_record_id(value)
    if task_id is None:
        fail(f"{label} is {value!r:.60}, not Ray's record of a task.", row_hint)
    _require_ray("raykit.check.found_failed_task")
    rows = list_tasks(
        address=state_api_address(),
        filters=[("task_id", "=", task_id)],
        raise_on_missing_output=False,
    )
    if not rows:
        fail(f"Ray's State API lists no task with the id in {label}.", row_hint)
    record = max(rows, key=lambda row: row.attempt_number)
    if _recorded_function(record) != name:
        fail(f"{label} is a task of {_recorded_function(record)}, not of {name}.", row_hint)
    if record.state != "FAILED":
        fail(f"{label} is a {name} task that Ray records as {record.state}, not FAILED.", row_hint)
    log_hint = hint or (
        f"read it with \"\".join(get_log(task_id={label.strip('`')}.task_id, suffix='err'))."
    )
    if isinstance(text, list | tuple) and all(isinstance(line, str) for line in text):
        text = "".join(text)
    if not isinstance(text, str):
        fail(f"{log_label} is a {type(text).__name__}, not the log's text (a string).", log_hint)
    try:
        err, out = (
            "".join(get_log(address=state_api_address(), task_id=task_id, suffix=s)).strip()
            for s in ("err", "out")
        )
    except Exception as exc:  # noqa: BLE001  the log may be gone with its node
        fail(f"Ray could not return the task's log ({type(exc).__name__}).", hint)
    if text.strip() != err:
        if text.strip() == out:
            fail(f"{log_label} is what the task wrote to its stdout, not its stderr.", log_hint)
        fail(f"{log_label} is not what the task in {label} wrote to its stderr.", log_hint)
    passed(
        f"{label} is the {name} task that failed ({record.error_type or 'FAILED'}), and "
        f"{log_label} is what it wrote to its stderr, as Ray's logs keep it."
    )


def reports_failures(answer: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is a function of no arguments that returns ``{function name: number
    of FAILED tasks}`` as Ray's task summary (``summarize_tasks``) counts them. The check first
    makes two tasks of its own fail, so a dict typed in cannot keep up."""
    from ._observe import failed_by_function, run_probes
    from ._wait import wait_until

    label, fn = resolve(answer)
    _require_defined(label, fn, hint)
    fn_hint = hint or (
        "write a function, def failed_by_function(): ..., that calls summarize_tasks each "
        "time and reads every entry's state_counts."
    )
    if isinstance(fn, dict):
        fail(f"{label} is a dict: a snapshot that is stale once another task fails.", fn_hint)
    if not callable(fn):
        fail(f"{label} is a {type(fn).__name__}, not a function.", fn_hint)
    _require_ray("raykit.check.reports_failures")
    before = failed_by_function()
    probe = run_probes(2)
    wanted = before.get(probe, 0) + 2
    wait_until(
        lambda: failed_by_function().get(probe, 0) >= wanted,
        timeout_s=_METRICS_WAIT_S,
        raise_on_timeout=False,
    )
    truth_before = failed_by_function()
    try:
        got = fn()
    except KeyError as exc:
        fail(
            f"calling {label.strip('`')}() raised KeyError: {exc}.",
            hint
            or "a function none of whose tasks failed has no 'FAILED' key in its "
            "state_counts: read it with .get('FAILED', 0), or skip it.",
        )
    except Exception as exc:  # noqa: BLE001  the learner's code: show its error, not a traceback
        fail(f"calling {label.strip('`')}() raised {type(exc).__name__}: {exc}.", fn_hint)
    truth_after = failed_by_function()
    if not isinstance(got, dict):
        fail(f"{label.strip('`')}() returned a {type(got).__name__}, not a dict.", fn_hint)
    counted = {name: count for name, count in got.items() if count}
    if counted not in (truth_before, truth_after):
        names = sorted(set(counted) | set(truth_after), key=str)
        wrong = [n for n in names if counted.get(n, 0) != truth_after.get(n, 0)]
        said = "; ".join(
            f"{n}: yours {counted.get(n, 0)}, Ray's {truth_after.get(n, 0)}" for n in wrong[:4]
        )
        fail(
            f"{label.strip('`')}() does not match the FAILED counts of Ray's task summary "
            f"({said}).",
            hint or "count only the FAILED entry of each function's state_counts.",
        )
    passed(
        f"{label.strip('`')}() counts failed tasks per function as Ray's summary does, "
        f"including the 2 {probe} tasks the check made fail: {truth_after}."
    )


def promql_counts(
    answer: Any,
    function: Any,
    state: str,
    more: Any,
    prom: Any = None,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is a PromQL expression whose value is the number of tasks of
    ``function`` in ``state`` that Ray's State API lists, both before and after the check runs
    ``function`` once more on each argument in ``more`` (calls that end in ``state``), so a
    number typed into the query cannot keep up. It asks the Prometheus server ``prom`` when it
    runs, else reads Ray's metrics endpoints once (see :func:`raykit.metric_value`)."""
    from ._observe import metric_value, task_count, wait_out
    from ._wait import wait_until
    from .exceptions import ConfigError

    label, query = resolve(answer)
    _require_defined(label, query, hint)
    name = _function_name(function, "function", hint)
    query_hint = hint or (
        "select the ray_tasks series by their labels and sum them: "
        '\'sum(ray_tasks{Name="...", State="..."})\'.'
    )
    if not isinstance(query, str) or not query.strip():
        fail(f"{label} is {query!r:.40}, not a PromQL expression (a string).", query_hint)
    _require_ray("raykit.check.promql_counts")
    reference = f'sum(ray_tasks{{Name="{name}", State="{state}"}})'

    def judged(after: str) -> None:
        truth = task_count(name, state)
        caught_up = wait_until(
            lambda: metric_value(reference, prom) == truth,
            timeout_s=_METRICS_WAIT_S,
            every_s=0.5,
            raise_on_timeout=False,
        )
        if not caught_up:
            fail(
                f"Ray's metrics did not catch up with its State API within "
                f"{_METRICS_WAIT_S:g} s ({truth} {state} {name} tasks listed).",
                "metrics trail the tasks by a report interval and a scrape: run the check again.",
            )
        try:
            got = metric_value(query, prom)
        except ConfigError as exc:
            fail(f"{label} could not be evaluated: {exc}", query_hint)
        if got != truth:
            fail(
                f"{after}{label} gives {got:g}; Ray's State API lists {truth} tasks of {name} "
                f"in state {state}.",
                query_hint,
            )

    judged("")
    args = list(more) if isinstance(more, list | tuple) else [more]
    count = task_count(name, state)
    wait_out([function.remote(arg) for arg in args])
    wait_until(
        lambda: task_count(name, state) >= count + len(args),
        timeout_s=_METRICS_WAIT_S,
        raise_on_timeout=False,
    )
    judged(f"after the check ran {name} {len(args)} more time(s), ")
    passed(
        f"{label} counts the {state} tasks of {name} as Ray's State API lists them, and it "
        f"followed the {len(args)} the check added."
    )


def freed_biggest(answer: Any, cache: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` is the id (``ref.hex()``) of an object of this Ray job that Ray's
    State API no longer lists (freed), and every object still in ``cache`` (a dict of
    ObjectRefs) takes at most a quarter of the object store, by the sizes the State API
    reports: the object that filled the store is the one that went."""
    import ray
    from ray.util.state import list_objects

    from ._session import state_api_address
    from ._store import _object_rows, store_stats
    from ._wait import wait_until

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    id_hint = hint or "keep the id, which holds no reference: big_id = ref.hex()."
    _require_object_id_of_this_job(label, value, id_hint, "raykit.check.freed_biggest")
    cache_label, kept = resolve(cache)
    _require_defined(cache_label, kept, hint)
    if not isinstance(kept, dict) or not all(isinstance(r, ray.ObjectRef) for r in kept.values()):
        fail(f"{cache_label} is not a dict of ObjectRefs any more.", hint or "del cache[key].")
    ids = {ref.hex(): key for key, ref in kept.items()}
    rows = list_objects(
        address=state_api_address(), detail=True, limit=10_000, raise_on_missing_output=False
    )
    sizes = {row.object_id: row.object_size or 0 for row in rows if row.object_id in ids}
    quarter = store_stats()["capacity_mb"] * 1e6 / 4
    big = {ids[i]: size for i, size in sizes.items() if size > quarter}
    if big:
        key, size = max(big.items(), key=lambda item: item[1])
        fail(
            f"{cache_label}[{key!r}] still holds an object of {size / 1e6:.0f} MB, more than a "
            "quarter of the store: that is the one that fills it.",
            hint or "sort the State API's rows by object_size, largest first, and free that one.",
        )
    wait_until(lambda: not _object_rows(value), timeout_s=5, raise_on_timeout=False)
    holders = _object_rows(value)
    if holders:
        fail(
            f"the object {label} names is still referenced: {_holders(value, holders)}.",
            hint or "drop every name and container that holds its ref: del cache[key].",
        )
    passed(
        f"the object {label} names is freed, and what is left in {cache_label} takes "
        f"{sum(sizes.values()) / 1e6:.0f} MB, none of it more than a quarter of the store."
    )


# --- token authentication (lesson 10): judged by the dashboard's answers, with and without ------
# The checks send the learner's headers to Ray's dashboard themselves. No message ever shows a
# header's value: it holds the cluster's token.

_TOKEN_HEADERS = ("authorization", "x-ray-authorization")  # where Ray's dashboard reads a token


def _dashboard_answer(base: str, path: str, headers: dict) -> int:
    """The HTTP status Ray's dashboard answers ``GET base+path`` with (401 and 403 included)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{base}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _dashboard_auth_mode(base: str) -> str | None:
    """What the dashboard says of its token authentication (``token`` or ``disabled``), from
    its public ``/api/authentication_mode``; None when it does not say."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/api/authentication_mode", timeout=30) as response:
            return json.load(response).get("authentication_mode")
    except Exception:  # noqa: BLE001  an older dashboard: judged by its answers alone
        return None


def _header_name(name: str) -> str:
    """A header's name as a message may show it (a long one might be the token itself)."""
    return repr(name) if len(name) <= 30 else f"a header whose name is {len(name)} characters"


def _why_refused(label: str, headers: dict, status: int) -> tuple[str, str]:
    """What is wrong with ``headers`` that the dashboard refused with ``status``: (problem, hint),
    from the headers' shape alone, never quoting a value."""
    from pathlib import Path

    right_form = (
        "send {'Authorization': f'Bearer {token}'}, with the token `ray get-auth-token` prints."
    )
    if status not in (401, 403):
        return (
            f"the dashboard answered {status} to a request with {label}, not 200.",
            "run the check again; if it persists, the dashboard is in trouble: see its logs.",
        )
    sent = {name: value for name, value in headers.items() if name.lower() in _TOKEN_HEADERS}
    if not sent:
        bearer = [n for n, v in headers.items() if v.startswith("Bearer ") or n.lower() == "bearer"]
        if bearer:
            return (
                f"{label} sends the token in a header named {_header_name(bearer[0])}; the "
                f"dashboard reads it from 'Authorization' only, so it saw no token ({status}).",
                right_form,
            )
        return (
            f"{label} has no 'Authorization' header, so the dashboard saw no token ({status}).",
            right_form,
        )
    name, value = next(iter(sent.items()))
    if not value.startswith("Bearer "):
        if value.lower().startswith("bearer "):
            return (
                f"the dashboard refused {label} ({status}): Ray compares the whole value, and "
                "wants 'Bearer' with a capital B.",
                right_form,
            )
        if " " not in value.strip():
            return (
                f"{label}[{name!r}] holds the token alone; the dashboard wants the word "
                f"'Bearer', a space, then the token, and refused it ({status}).",
                right_form,
            )
        return (f"{label}[{name!r}] does not start with 'Bearer ' ({status}).", right_form)
    rest = value[len("Bearer ") :]
    if rest[:1].isspace():
        return (
            f"the dashboard refused {label} ({status}): one space after 'Bearer', no more.",
            right_form,
        )
    try:
        is_file = Path(rest.strip()).expanduser().is_file()
    except (OSError, ValueError):
        is_file = False
    if is_file:
        return (
            f"{label}[{name!r}] holds the path of a file after 'Bearer ', not the token in it, "
            f"and the dashboard refused it ({status}).",
            "read the file: Path(...).read_text().strip(), or use `ray get-auth-token`.",
        )
    return (
        f"the dashboard refused the token in {label} ({status}): it is not this cluster's.",
        "`ray get-auth-token` prints the token Ray uses here (RAY_AUTH_TOKEN, the file "
        "RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token).",
    )


def authenticated(
    answer: Any,
    status: Any,
    path: str = "/api/v0/nodes",
    dashboard: str | None = None,
    hint: str | None = None,
) -> None:
    """Pass when the dict of HTTP headers ``answer`` gets a request to Ray's dashboard API
    through: the check sends ``GET path`` (the State API's ``list_nodes`` by default) itself, with
    those headers and with none, and wants 200 with them (and, when the cluster's token
    authentication is on, 401 without). ``status`` must be the status the learner's own request
    got: 200. ``dashboard`` defaults to the connected cluster's. No message shows a header's
    value, which holds the token."""
    from ._session import current_dashboard_url

    label, headers = resolve(answer)
    _require_defined(label, headers, hint)
    status_label, got = resolve(status)
    _require_defined(status_label, got, hint)
    dict_hint = hint or "a dict of header names to values: {'Authorization': f'Bearer {token}'}."
    if not isinstance(headers, dict):
        fail(f"{label} is a {type(headers).__name__}, not a dict of HTTP headers.", dict_hint)
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            fail(
                f"{label} maps {type(name).__name__} to {type(value).__name__}; HTTP headers "
                "are text: names and values must be strings.",
                hint or "decode bytes with .decode(), and build the value with an f-string.",
            )
        if "\n" in value or "\r" in value:
            fail(
                f"the value of {label}[{_header_name(name)}] holds a line break (the token "
                "read with its newline?): HTTP cannot send it.",
                hint or "strip the token: token.strip().",
            )
    if dashboard is None:
        _require_ray("raykit.check.authenticated")
        dashboard = current_dashboard_url()
    if not dashboard:
        fail("this cluster has no dashboard, so there is no API to ask.", hint)
    base = dashboard.rstrip("/") if "://" in dashboard else f"http://{dashboard.rstrip('/')}"
    mode = _dashboard_auth_mode(base)
    try:
        without = _dashboard_answer(base, path, {})
    except Exception as exc:  # noqa: BLE001  the dashboard is gone: say so, briefly
        fail(
            f"the check could not ask the dashboard at {base} ({type(exc).__name__}).",
            hint or "is the cluster still running? Run the lesson's cells from the top.",
        )
    try:
        answered = _dashboard_answer(base, path, headers)
    except ValueError:  # http.client refuses the header; its message quotes the value: not shown
        fail(
            f"HTTP cannot send {label}: a header name or value holds a character it refuses.",
            hint or "header names are plain words ('Authorization'); values are one line of text.",
        )
    except Exception as exc:  # noqa: BLE001  never show the request: its headers hold the token
        fail(
            f"the check could not ask the dashboard at {base} ({type(exc).__name__}).",
            hint or "is the cluster still running? Run the lesson's cells from the top.",
        )
    auth_on = mode == "token" if mode else without in (401, 403)
    if auth_on and without != 401:
        fail(
            f"the dashboard answered {without} to {path} without a token, not 401: it does not "
            "ask for one there, so the check cannot judge your headers.",
            hint or "run the check against this lesson's own cluster.",
        )
    if answered != 200:
        problem, fix = _why_refused(label, headers, answered)
        fail(problem, hint or fix)
    if isinstance(got, bool) or not isinstance(got, int):
        fail(
            f"{status_label} is a {type(got).__name__}, not an HTTP status (an int).",
            hint or "keep the number: response.status, or the HTTPError's .code.",
        )
    if got != answered:
        fail(
            f"{status_label} is {got}, but the dashboard answers {answered} to a request with "
            f"{label}: keep the status of the request you made with them.",
            hint or "make the request again with your headers, and keep what it answered.",
        )
    if auth_on:
        passed(
            f"the dashboard's {path} answered 200 with {label} and {without} without: "
            f"{label} carries this cluster's token, and {status_label} is 200."
        )
    else:
        passed(
            f"token authentication is off on this cluster: {path} answered 200 with {label} "
            f"and {without} without. With it on, a request needs 'Authorization: Bearer <token>'."
        )


# --- KubeRay manifests (lesson 11): judged by validating them and reading their fields -----------


def _kuberay_manifest_of(label: str, value: Any, kind: str, hint: str | None) -> dict:
    """The manifest ``value`` holds (a builder, a dict or YAML text), of ``kind``; else a hint."""
    import yaml

    from .exceptions import ConfigError
    from .kuberay._checks import as_manifest

    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            fail(
                f"{label} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}.",
                hint or "indent with spaces only, and keep each key's children one level deeper.",
            )
    try:
        manifest = as_manifest(value)
    except ConfigError:
        fail(
            f"{label} is a {type(value).__name__}, not a KubeRay manifest.",
            hint or f"build it with raykit.kuberay.{kind}(...), or write it as YAML text.",
        )
    if manifest.get("kind") != kind:
        fail(f"{label} is a {manifest.get('kind')!r}, not a {kind}.", hint)
    return manifest


def _kuberay_issues(label: str, manifest: dict, crd: Any, hint: str | None) -> list:
    """Validate; fail on the first error. Returns every issue (warnings included)."""
    from .kuberay import validate

    issues = validate(manifest, crd=crd)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        fail(f"{label} does not validate: {errors[0]}", hint or "fix the field the error names.")
    return issues


def _how_validated(crd: Any) -> str:
    if crd is None or crd is False:
        return "by the kit's checks (strict validation needs the KubeRay CRDs)"
    return "strictly, against the KubeRay CRDs, and by the kit's checks"


def _worker_groups(spec: Any) -> dict:
    """``{groupName: group}`` of every list of groups under ``spec``, whatever its key is."""
    found = {}
    for value in (spec or {}).values() if isinstance(spec, dict) else ():
        if isinstance(value, list):
            for group in value:
                if isinstance(group, dict) and "groupName" in group:
                    found[group["groupName"]] = group
    return found


def _container_limit(group: dict, resource: str) -> Any:
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    first = containers[0] if isinstance(containers[0], dict) else {}
    return ((first.get("resources") or {}).get("limits") or {}).get(resource)


def manifest_fixed(answer: Any, broken: str, crd: Any = None, hint: str | None = None) -> None:
    """Pass when ``answer`` (YAML text, or a dict) is the manifest ``broken`` (YAML text) mended:
    the same kind and name, no validation error (strict when ``crd`` holds the CRDs), a
    ``rayVersion``, every worker group of ``broken`` under ``workerGroupSpecs``, and each group's
    CPU limit the same amount as ``broken`` meant, written as Kubernetes takes it."""
    import yaml

    from .kuberay._facts import CLUSTER_SPEC_PATH, quantity_value

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    before = yaml.safe_load(broken)
    kind, name = before.get("kind"), (before.get("metadata") or {}).get("name")
    manifest = _kuberay_manifest_of(label, value, kind, hint)
    got = (manifest.get("metadata") or {}).get("name")
    if got != name:
        fail(f"{label} is named {got!r}; the manifest to mend is {name!r}.", hint)
    cluster = manifest
    for key in CLUSTER_SPEC_PATH[kind]:
        cluster = cluster.get(key) or {}
    groups = {g.get("groupName"): g for g in cluster.get("workerGroupSpecs") or []}
    for group_name, old in _worker_groups(before.get("spec")).items():
        if group_name not in groups:
            fail(
                f"{label} has no worker group {group_name!r} in spec.workerGroupSpecs.",
                hint
                or "KubeRay reads worker groups from workerGroupSpecs (plural) only; under "
                "another name the API server rejects the field, or drops it and the cluster "
                "starts without workers.",
            )
        meant = quantity_value(_container_limit(old, "cpu"))
        now = quantity_value(_container_limit(groups[group_name], "cpu"))
        if meant is not None and now != meant:
            fail(
                f"worker group {group_name!r} of {label} gets {now:g} CPU; the broken manifest "
                f"meant {meant:g}.",
                hint
                or "keep the amount and write it as Kubernetes takes it: a string such as "
                '"500m" (thousandths of a CPU) or a whole number.',
            )
    issues = _kuberay_issues(label, manifest, crd, hint)
    version = [i for i in issues if i.check == "ray-version"]
    if version:
        fail(f"{label}: {version[0].message}", hint or version[0].fix)
    shown = [i.check for i in issues if i.severity == "warning"]
    passed(
        f"{label} is a valid {kind} {name!r}, validated {_how_validated(crd)}"
        + (f"; warnings left: {', '.join(shown)}." if shown else ".")
    )


def gpu_group_tolerates(
    answer: Any,
    group: str,
    taints: list,
    max_at_least: int = 2,
    crd: Any = None,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is a valid RayCluster with autoscaling on whose worker group ``group``
    asks for GPUs, scales from 0 Pods up to ``max_at_least`` or more, and whose Pods tolerate
    every taint in ``taints`` (Kubernetes' matching rule), so they can land on such a node."""
    from .kuberay import untolerated

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    manifest = _kuberay_manifest_of(label, value, "RayCluster", hint)
    _kuberay_issues(label, manifest, crd, hint)
    spec = manifest.get("spec") or {}
    if spec.get("enableInTreeAutoscaling") is not True:
        fail(
            f"{label} has no autoscaler: nothing would add GPU Pods when tasks ask for GPUs.",
            hint or "pass autoscaling=True to RayCluster(...).",
        )
    groups = {g.get("groupName"): g for g in spec.get("workerGroupSpecs") or []}
    if group not in groups:
        fail(f"{label} has no worker group {group!r} (it has {sorted(groups)}).", hint)
    found = groups[group]
    gpus = _container_limit(found, "nvidia.com/gpu")
    if not gpus or str(gpus) == "0":
        fail(
            f"the Pods of worker group {group!r} ask for no nvidia.com/gpu.",
            hint
            or "give the WorkerGroup gpus=1: Kubernetes then places its Pods on a node "
            "with a free GPU.",
        )
    low, high = found.get("minReplicas", 0), found.get("maxReplicas", 0)
    if low != 0 or high < max_at_least:
        fail(
            f"worker group {group!r} scales between {low} and {high} Pods; it should start "
            f"from 0 (no idle GPU) and grow to {max_at_least} or more.",
            hint or "set replicas=0, min_replicas=0 and max_replicas on the WorkerGroup.",
        )
    blocked = untolerated(manifest, group, taints)
    if blocked:
        taint = blocked[0]
        shown = f"{taint['key']}={taint.get('value', '')}:{taint['effect']}"
        fail(
            f"the Pods of worker group {group!r} do not tolerate the GPU nodes' taint {shown}: "
            "Kubernetes would leave them Pending.",
            hint
            or "add a toleration with the taint's key, operator 'Equal', its value and its "
            "effect to the WorkerGroup's tolerations=[...].",
        )
    passed(
        f"{label}: worker group {group!r} asks for {gpus} GPU per Pod, scales 0 to {high} Pods, "
        f"and tolerates the {len(taints)} taints of the GPU nodes; valid {_how_validated(crd)}."
    )


def _is_remote_uri(uri: Any) -> bool:
    return isinstance(uri, str) and "://" in uri and not uri.startswith("file://")


def kuberay_job(
    answer: Any, script: str, env_vars: list, crd: Any = None, hint: str | None = None
) -> None:
    """Pass when ``answer`` is a ``raykit.kuberay.RayJob`` that validates, whose entrypoint runs
    ``script``, whose runtime environment (as Ray reads it) takes the code from a remote URI and
    sets every variable in ``env_vars``, and that deletes its cluster after the job."""
    import yaml

    from .kuberay import RayJob

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, RayJob):
        fail(
            f"{label} is a {type(value).__name__}, not a RayJob builder.",
            hint or "build it with raykit.kuberay.RayJob(name, entrypoint=..., runtime_env=...).",
        )
    manifest = value.to_dict()
    issues = _kuberay_issues(label, manifest, crd, hint)
    left_running = [i for i in issues if i.check == "rayjob-shutdown"]
    if left_running:
        fail(f"{label}: {left_running[0].message}", hint or left_running[0].fix)
    spec = manifest["spec"]
    if script not in spec["entrypoint"].split():
        shown = spec["entrypoint"]
        fail(f"the entrypoint of {label} is {shown!r}; it does not run {script}.", hint)
    env = yaml.safe_load(spec.get("runtimeEnvYAML") or "{}") or {}
    if not _is_remote_uri(env.get("working_dir")):
        fail(
            f"the working_dir of {label} is {env.get('working_dir')!r}, which the cluster's "
            "Pods cannot read: the RayJob's submitter runs in the cluster, not on your laptop.",
            hint
            or "give a remote URI of a zip of the code (s3://, gs://, https://), or bake "
            "the code into the image.",
        )
    try:
        from ray.runtime_env import RuntimeEnv

        RuntimeEnv(**env)
    except Exception as exc:  # Ray's own validation of the runtime environment
        fail(
            f"Ray rejects the runtime_env of {label}: {_first_line(exc)}",
            hint or "fix what Ray names; env_vars maps names to strings: write '4', not 4.",
        )
    missing = [name for name in env_vars if name not in (env.get("env_vars") or {})]
    if missing:
        fail(
            f"the runtime_env of {label} does not set {', '.join(missing)}.",
            hint or "add them under runtime_env={'env_vars': {...}}.",
        )
    passed(
        f"{label} runs {script} with {', '.join(env_vars)} set and the code from "
        f"{env['working_dir']}, and deletes its cluster after the job; valid "
        f"{_how_validated(crd)}."
    )


def _cluster_cpus_at_most(cluster: dict) -> float:
    """The CPUs Ray sees at the most: every worker group at its maxReplicas with the autoscaler,
    else at its replicas."""
    import math

    from .kuberay._facts import quantity_value

    def cpus(group: dict) -> float:
        param = (group.get("rayStartParams") or {}).get("num-cpus")
        if param is not None:
            return quantity_value(param) or 0.0
        return math.ceil(quantity_value(_container_limit(group, "cpu")) or 0.0)

    grows = cluster.get("enableInTreeAutoscaling") is True
    total = cpus(cluster.get("headGroupSpec") or {})
    for group in cluster.get("workerGroupSpecs") or []:
        count = group.get("replicas", 0)
        total += cpus(group) * (max(count, group.get("maxReplicas", count)) if grows else count)
    return total


def kuberay_service(
    answer: Any, route_prefix: str, deployment: str, crd: Any = None, hint: str | None = None
) -> None:
    """Pass when ``answer`` is a RayService that validates, whose Serve config Ray Serve's own
    schema accepts with no key Serve would ignore, serving ``deployment`` at ``route_prefix``
    with autoscaling, on a cluster that can grow to hold the most replicas it may ask for."""
    import yaml

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    manifest = _kuberay_manifest_of(label, value, "RayService", hint)
    _kuberay_issues(label, manifest, crd, hint)
    config = yaml.safe_load(manifest["spec"].get("serveConfigV2") or "{}") or {}
    from ray.serve.schema import DeploymentSchema, ServeApplicationSchema

    _, rejected = _serve_config(config)
    if rejected:
        fail(f"Ray Serve rejects the Serve config of {label}: {rejected}.", hint)
    apps = config.get("applications") or []
    for schema, items in [(ServeApplicationSchema, apps)] + [
        (DeploymentSchema, app.get("deployments") or []) for app in apps
    ]:
        for item in items:
            unknown = sorted(set(item) - set(schema.model_fields))
            if unknown:
                fail(
                    f"the Serve config of {label} has {unknown[0]!r}, which Serve does not know "
                    "and ignores without a word.",
                    hint
                    or f"use the fields of {schema.__name__}, such as num_replicas or "
                    "autoscaling_config.",
                )
    app = next((a for a in apps if a.get("route_prefix") == route_prefix), None)
    if app is None:
        routes = [a.get("route_prefix", "/") for a in apps]
        fail(
            f"{label} serves nothing at {route_prefix} (its routes: {routes}).",
            hint or f"pass route_prefix={route_prefix!r} to RayService(...).",
        )
    found = next((d for d in app.get("deployments") or [] if d.get("name") == deployment), None)
    scaling = (found or {}).get("autoscaling_config") or {}
    low, high = scaling.get("min_replicas", 1), scaling.get("max_replicas", 1)
    if not high > low:
        fail(
            f"deployment {deployment!r} of {label} does not autoscale (replicas {low} to {high}).",
            hint
            or f"give {deployment!r} an autoscaling_config with min_replicas and a larger "
            "max_replicas in deployments=[...].",
        )
    per_replica = ((found.get("ray_actor_options") or {}).get("num_cpus", 1)) or 0
    needed = high * per_replica
    cluster = manifest["spec"].get("rayClusterConfig") or {}
    room = _cluster_cpus_at_most(cluster)
    if needed > room:
        fail(
            f"at {high} replicas {deployment!r} needs {needed:g} CPUs, but the cluster of "
            f"{label} grows to {room:g} CPUs at most: Serve would leave replicas pending.",
            hint
            or "give the cluster a worker group whose max_replicas times its CPUs leaves "
            "room for every replica (and turn on autoscaling=True).",
        )
    passed(
        f"{label} serves {deployment!r} at {route_prefix}, {low} to {high} replicas "
        f"({needed:g} CPUs at most, the cluster grows to {room:g}); Serve's schema accepts its "
        f"config; valid {_how_validated(crd)}."
    )


# -- Ray Serve (lesson 09): judged from Serve's own state (serve.status()) and real HTTP answers


# --- the autoscaler (lesson 11): judged from the nodes that Ray's autoscaler started ---------


def _fits(need: dict, has: dict) -> bool:
    return all(has.get(name, 0) >= amount for name, amount in need.items() if amount)


def scaled_for(
    answer: Any,
    node_type: str,
    cluster: Any,
    timeout_s: float = 240.0,
    hint: str | None = None,
) -> None:
    """Pass when every task behind the refs in ``answer`` finished on a worker node of
    ``node_type`` that the autoscaler of ``cluster`` (a ``MiniCluster(autoscaling=...)``)
    started. Read from Ray's State API: each task's required resources and node, and each
    node's ``ray.io/node-group`` label. A request that no node type can meet fails at once,
    with what the types offer."""

    from ._autoscale import WAITING_FOR_A_NODE
    from ._wait import wait_until

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    refs = _task_refs(label, value, hint)
    _require_ray(f"checking {label}")
    types = getattr(cluster, "autoscaling", None) or {}
    if node_type not in types:
        raise TypeError(f"scaled_for: {node_type!r} is not a node type of {cluster!r}")
    offered = {name: t["resources"] for name, t in types.items()}
    task_ids = [r.task_id().hex() for r in refs]

    def settled() -> dict | None:
        records = _records_by_id(task_ids, done=False, timeout_s=5)
        for record in records.values():
            need = {k: v for k, v in (record.required_resources or {}).items() if v}
            if record.state == WAITING_FOR_A_NODE and not any(
                _fits(need, has) for has in offered.values()
            ):
                fail(
                    f"a task in {label} asks for {need}, which no node type offers "
                    f"({offered}): the autoscaler reports it infeasible and starts nothing.",
                    hint or f"ask for what a {node_type} node has, and no more.",
                )
        done = all(r.state in ("FINISHED", "FAILED") for r in records.values())
        return records if len(records) == len(task_ids) and done else None

    records = wait_until(settled, timeout_s=timeout_s, every_s=1.0, raise_on_timeout=False)
    if not records:
        fail(
            f"the tasks in {label} still wait for a node after {timeout_s:g} s.",
            hint
            or "the autoscaler starts nodes for what tasks ask for in resources (num_cpus, "
            f"resources={{...}}) that a node type offers: ask for what {node_type} has.",
        )
    failed = [r for r in records.values() if r.state == "FAILED"]
    if failed:
        fail(f"{len(failed)} of the tasks in {label} failed: {failed[0].error_type}.", hint)
    # The node type of each node the autoscaler started; any other node is one started by hand.
    started = {n["node_id"]: n["node_type"] for n in cluster.autoscaled_nodes()}
    placed = [started.get(r.node_id, "hand-started (not autoscaled)") for r in records.values()]
    wrong = sorted({p for p in placed if p != node_type})
    if wrong:
        fail(
            f"the tasks in {label} ran on {', '.join(wrong)} nodes, not on {node_type} nodes.",
            hint
            or f"ask for a resource that only {node_type} nodes have "
            f"({offered[node_type]}), so that no other node type can take the task.",
        )
    nodes = {r.node_id for r in records.values()}
    passed(
        f"{len(records)} task(s) in {label} ran on {len(nodes)} {node_type} node(s) that the "
        "autoscaler started for them."
    )


def _serve_handle(answer: Any, hint: str | None, depth: int = 3) -> tuple[str, Any]:
    """``(label, handle)`` for an answer that must be the DeploymentHandle serve.run returned."""
    from ray.serve.handle import DeploymentHandle

    label, value = resolve(answer, depth)
    _require_defined(label, value, hint)
    if not isinstance(value, DeploymentHandle):
        fail(
            f"{label} is a {type(value).__name__}, not the DeploymentHandle that serve.run "
            "returned.",
            hint or "keep what serve.run returns: handle = serve.run(App.bind(...), name=...).",
        )
    return label, value


def _serve_app_running(app: str, hint: str | None, appear_s: float = 0.0):
    """Serve's overview of ``app`` once it stopped deploying; a hint unless it is RUNNING."""
    from ._serve import first_line, settled_app
    from ._wait import WaitTimedOut

    try:
        overview = settled_app(app, appear_s=appear_s)
    except WaitTimedOut:
        fail(f"application {app!r} was still deploying after a while (serve.status()).", hint)
    if overview is None:
        fail(f"Serve runs no application named {app!r} (serve.status() does not list it).", hint)
    status = overview.status.value
    if status != "RUNNING":
        fail(f"application {app!r} is {status}, not RUNNING: {first_line(overview.message)}", hint)
    return overview


def _serve_http(url: Any, payloads: Any, expected: Any, hint: str | None) -> int:
    """POST each payload to ``url``; a hint unless each answer holds its expected fields."""
    import httpx

    from ._serve import first_line, post_json

    for payload, want in zip(payloads, expected, strict=True):
        try:
            code, body = post_json(url, payload)
        except httpx.HTTPError as exc:
            fail(f"POST {url} failed: {type(exc).__name__}.", hint)
        if code >= 400:
            fail(
                f"POST {url} answered HTTP {code}: {first_line(body)}",
                hint
                or "Serve got the request but no code of yours answered it: a FastAPI app needs "
                "@serve.ingress(app) on the deployment class; the replica's log (the dashboard's "
                "Serve tab) shows any error your code raised.",
            )
        if isinstance(want, dict) and isinstance(body, dict):
            wrong = {k: body.get(k, "(missing)") for k, v in want.items() if body.get(k) != v}
        else:
            wrong = None if body == want else body
        if wrong:
            fail(f"POST {url} answered {body!r}; expected {want!r}.", hint)
    return len(expected)


def serve_answers(
    answer: Any, url: Any, payloads: Any, expected: Any, hint: str | None = None
) -> None:
    """Pass when the application behind the DeploymentHandle ``answer`` is RUNNING in
    ``serve.status()`` and answers each payload POSTed to ``url`` (real HTTP, through Serve's
    proxy) with the fields of its ``expected`` dict."""
    label, handle = _serve_handle(answer, hint)
    _serve_app_running(handle.app_name, hint)
    n = _serve_http(url, payloads, expected, hint)
    passed(
        f"{label}: application {handle.app_name!r} is RUNNING in serve.status(), and {url} "
        f"answered {n} requests over HTTP right."
    )


def serve_replicas(
    answer: Any, running: int, url: Any = None, payloads: Any = None, hint: str | None = None
) -> None:
    """Pass when Serve reports ``running`` RUNNING replicas of the deployment behind the
    DeploymentHandle ``answer``, and, given ``url``, HTTP answers came from that many replicas
    (each answer's ``"replica"`` field: the replica's id)."""
    from ._serve import post_json

    label, handle = _serve_handle(answer, hint)
    app, deployment = handle.app_name, handle.deployment_name
    overview = _serve_app_running(app, hint)
    states = dict(overview.deployments[deployment].replica_states)
    if states.get("RUNNING", 0) != running:
        fail(
            f"Serve reports {states.get('RUNNING', 0)} RUNNING replicas of {deployment!r} in "
            f"{app!r} (replica states {states}), not {running}.",
            hint or f"deploy it with {deployment}.options(num_replicas={running}).",
        )
    seen: set = set()
    if url is not None:
        for i in range(20 * running):  # sent one after another, the router spreads them
            code, body = post_json(url, payloads[i % len(payloads)])
            if code >= 400 or not isinstance(body, dict) or "replica" not in body:
                fail(f"POST {url} answered HTTP {code}: {body!r}.", hint)
            seen.add(body["replica"])
            if len(seen) == running:
                break
        if len(seen) != running:
            fail(f"{20 * running} requests reached {len(seen)} replicas, not {running}.", hint)
    where = f"; {len(seen)} different replicas answered over HTTP" if seen else ""
    passed(f"{label}: Serve reports {running} RUNNING replicas of {deployment!r}{where}.")


def serve_composed(
    answer: Any,
    deployments: Any,
    url: Any,
    payloads: Any,
    expected: Any,
    hint: str | None = None,
) -> None:
    """Pass when the application behind the DeploymentHandle ``answer`` holds, beside its
    ingress, every deployment named in ``deployments``, all HEALTHY in ``serve.status()``, and
    answers each payload POSTed to ``url`` with the fields of its ``expected`` dict."""
    label, handle = _serve_handle(answer, hint)
    overview = _serve_app_running(handle.app_name, hint)
    found = set(overview.deployments) - {handle.deployment_name}
    missing = sorted(set(deployments) - found)
    if missing:
        fail(
            f"application {handle.app_name!r} has no deployment {', '.join(missing)} "
            f"(Serve lists {sorted(overview.deployments)}).",
            hint
            or "bind each deployment and pass it to the ingress's .bind(...): the ingress "
            "then gets a DeploymentHandle to call.",
        )
    n = _serve_http(url, payloads, expected, hint)
    passed(
        f"{label}: application {handle.app_name!r} runs {handle.deployment_name} with "
        f"{', '.join(sorted(found))} behind it, all HEALTHY; {url} answered {n} requests right."
    )


def _read_serve_config(answer: Any, hint: str | None) -> tuple[str, str, Any, Any]:
    """The file at path ``answer``, read as YAML and as Serve's config schema: the answer's
    label, the file's name, the YAML and the config; fail, naming what is wrong, where either
    refuses it."""
    from pathlib import Path

    import yaml

    from ._serve import first_line

    label, value = resolve(answer, depth=3)  # the name is in the namespace of the check's caller
    _require_defined(label, value, hint)
    if not isinstance(value, str | Path) or not Path(value).is_file():
        fail(f"{label} is {value!r}, not the path of a file you wrote.", hint)
    name = Path(value).name
    try:
        raw = yaml.safe_load(Path(value).read_text())
    except yaml.YAMLError as exc:
        fail(f"{name} is not YAML that Serve can read: {first_line(exc)}", hint)
    config, rejected = _serve_config(raw)
    if rejected:
        fail(f"Serve does not accept {name} as a config: {rejected}.", hint)
    return label, name, raw, config


def _serve_config(config: Any) -> tuple[Any, str | None]:
    """Serve's own reading of a config (a dict from YAML): ``(schema, None)`` when Serve accepts
    it, else ``(None, "where: why")`` from the first error of Serve's schema."""
    from ray.serve.schema import ServeDeploySchema

    try:
        return ServeDeploySchema.model_validate(config), None
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = exc.errors() if hasattr(exc, "errors") else [{"loc": (), "msg": str(exc)}]
        where = ".".join(str(part) for part in errors[0]["loc"])
        return None, f"{where}: {errors[0]['msg']}"


def serve_config(
    answer: Any,
    app: str,
    replicas: dict,
    url: Any = None,
    payloads: Any = (),
    expected: Any = (),
    hint: str | None = None,
) -> None:
    """Pass when the file at path ``answer`` is a Serve config (Serve's own schema accepts it)
    naming application ``app``, and Serve runs that application: RUNNING, with the RUNNING
    replicas per deployment given in ``replicas`` and, given ``url``, the expected answers."""
    label, name, _, config = _read_serve_config(answer, hint)
    if app not in [a.name for a in config.applications]:
        fail(f"{name} names no application {app!r}.", hint)
    from . import _serve

    overview = _serve_app_running(
        app,
        hint or "send the file to Serve: serve deploy <file> --address <dashboard>",
        _serve.CONFIG_APPEAR_S,
    )
    for deployment, count in replicas.items():
        states = dict(getattr(overview.deployments.get(deployment), "replica_states", {}))
        if states.get("RUNNING", 0) != count:
            fail(
                f"Serve reports {states.get('RUNNING', 0)} RUNNING replicas of {deployment!r} "
                f"in {app!r}, not {count}.",
                hint or "set num_replicas under the deployment's entry in the config.",
            )
    n = _serve_http(url, payloads, expected, hint) if url is not None else 0
    passed(
        f"{label}: Serve accepts the config; application {app!r} is RUNNING with "
        f"{replicas} RUNNING replicas" + (f", and {url} answered {n} requests right." if n else ".")
    )


# -- Ray Train (lesson 07): judged from the Result, its checkpoints and what every worker reported -


def _train_result(answer: Any, hint: str | None, depth: int = 3) -> tuple[str, Any]:
    """``(label, result)`` for an answer that must be the ``Result`` that ``fit()`` returned."""
    from ray.train import Result

    label, value = resolve(answer, depth=depth)
    _require_defined(label, value, hint)
    if isinstance(value, Result):
        return label, value
    name = type(value).__name__
    if name.endswith("Trainer"):
        fail(f"{label} is a {name}, not a Result.", hint or "call .fit() on the trainer.")
    if callable(value) and getattr(value, "__name__", "") == "fit":
        fail(f"{label} is the fit method itself, not a Result.", hint or "call it: .fit().")
    fail(f"{label} is a {name}, not a Result.", hint or "keep what trainer.fit() returns.")


def _report_log(log: Any) -> Any:
    from ._train import ReportLog
    from .exceptions import ConfigError

    if not isinstance(log, ReportLog):
        raise ConfigError(f"log={log!r} must be the raykit.ReportLog the run was given.")
    return log


def ran_locally(answer: Any, epochs: int = 1, hint: str | None = None) -> None:
    """Pass when ``answer`` is the ``Result`` of a Ray Train run in local mode
    (``ScalingConfig(num_workers=0)``: the training function ran in this process, no controller,
    no workers) whose training function ran ``epochs`` epochs and reported metrics and a
    checkpoint."""
    label, result = _train_result(answer, hint)
    if result.path is not None:
        fail(
            f"{label} came from a worker group (its run folder is {result.path}), which paid "
            "the worker group's start-up.",
            hint or "ScalingConfig(num_workers=0) runs the training function in this process.",
        )
    metrics = result.metrics
    if not metrics:
        fail(f"{label} holds no metrics.", hint or "the training function must ray.train.report.")
    last = metrics.get("epoch")
    if last != epochs - 1:
        fail(
            f"the last report in {label} is from epoch {last}: the run went on past "
            f"{epochs} epoch(s).",
            hint or f"pass train_loop_config={{**hyperparameters, 'epochs': {epochs}}}.",
        )
    if result.checkpoint is None:
        fail(f"{label} has no checkpoint.", hint or "report one with ray.train.report.")
    shown = ", ".join(f"{k}={v}" for k, v in metrics.items() if k in ("rank", "world_size", "rows"))
    passed(f"{label} ran in this process (local mode) and reported epoch {last}: {shown}.")


def train_run(
    answer: Any,
    log: Any,
    workers: int,
    keep: int | None = None,
    metric: str | None = None,
    mode: str = "max",
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is the ``Result`` of a Ray Train run on ``workers`` workers whose
    every report reached ``log`` (a ``raykit.ReportLog`` in its ``RunConfig(callbacks=...)``)
    from ranks ``0 .. workers-1``, and, when ``keep`` is given, which kept at most ``keep``
    checkpoints besides the latest, the best by ``metric`` (``mode`` ``"max"`` or ``"min"``)
    among them."""
    from .exceptions import ConfigError

    if mode not in ("max", "min"):
        raise ConfigError(f"mode={mode!r} must be 'max' or 'min'.")
    label, result = _train_result(answer, hint)
    reports = _report_log(log).reports(result) if result.path else []
    if result.path is None:
        fail(f"{label} came from local mode: no worker group ran it.", hint)
    if not reports:
        fail(
            f"the controller of {label}'s run reported nothing to the ReportLog.",
            hint or "pass RunConfig(callbacks=[report_log]) and run fit() again.",
        )
    sizes = sorted({r.world_size for r in reports})
    if sizes != [workers]:
        fail(f"{label}'s run had {sizes[-1]} worker(s) reporting, not {workers}.", hint)
    for report in reports:
        ranks = [m.get("rank", i) for i, m in enumerate(report.metrics)]
        if ranks != list(range(workers)):
            fail(f"the workers of {label}'s run reported ranks {ranks}.", hint)
    kept = result.best_checkpoints or []
    if keep is not None:
        with_checkpoint = [r for r in reports if r.checkpoint]
        if len(kept) > keep + 1:
            fail(
                f"{label}'s run kept {len(kept)} checkpoints of {len(with_checkpoint)}.",
                hint or f"CheckpointConfig(num_to_keep={keep}) deletes the others.",
            )
        if metric is not None and with_checkpoint:
            pick = max if mode == "max" else min
            best = pick(with_checkpoint, key=lambda r: r.metrics[0][metric])
            if best.checkpoint not in {c.path for c, _ in kept}:
                fail(
                    f"{label}'s run deleted its best checkpoint by {metric} (epoch "
                    f"{best.metrics[0].get('epoch')}, {metric} {best.metrics[0][metric]:.3f}).",
                    hint
                    or f"keep by score: CheckpointConfig(num_to_keep={keep}, "
                    f"checkpoint_score_attribute={metric!r}, checkpoint_score_order={mode!r}).",
                )
    passed(
        f"{label}: {len(reports)} rounds of reports from {workers} workers (ranks 0 to "
        f"{workers - 1}); {len(kept)} checkpoints kept."
    )


def _unwrapped_state(model: Any) -> dict:
    return getattr(model, "module", model).state_dict()


def loaded_best_checkpoint(
    answer: Any,
    result: Any,
    metric: str,
    mode: str = "max",
    file: str = "model.pt",
    key: str = "model",
    hint: str | None = None,
) -> None:
    """Pass when the PyTorch module ``answer`` holds the weights saved in the best checkpoint of
    the Ray Train ``result`` by ``metric`` (``mode`` ``"max"`` or ``"min"``): the state dict
    under ``key`` in the file ``file`` of that checkpoint's folder, compared tensor by tensor."""
    from pathlib import Path

    import torch

    from .exceptions import ConfigError

    if mode not in ("max", "min"):
        raise ConfigError(f"mode={mode!r} must be 'max' or 'min'.")
    label, model = resolve(answer)
    _require_defined(label, model, hint)
    if not isinstance(model, torch.nn.Module):
        fail(
            f"{label} is a {type(model).__name__}, not a PyTorch model.",
            hint or "build it with build_model(...), then load_state_dict(...) into it.",
        )
    _, run = _train_result(result, None, depth=3)
    kept = [(c, m) for c, m in (run.best_checkpoints or []) if metric in m]
    if not kept:
        raise ConfigError(f"result= kept no checkpoint with the metric {metric!r}.")
    mine = _unwrapped_state(model)
    matched = None
    for checkpoint, metrics in kept:
        with checkpoint.as_directory() as folder:
            saved = torch.load(Path(folder) / file, map_location="cpu")[key]
        if saved.keys() == mine.keys() and all(
            torch.equal(saved[k].cpu(), mine[k].cpu()) for k in saved
        ):
            matched = metrics
    pick = max if mode == "max" else min
    best = pick((m for _, m in kept), key=lambda m: m[metric])
    if matched is None:
        fail(
            f"the weights in {label} are those of none of the {len(kept)} checkpoints kept.",
            hint or f"load the state dict saved in the checkpoint's {file} with load_state_dict.",
        )
    if matched[metric] != best[metric]:
        fail(
            f"{label} holds the weights of epoch {matched.get('epoch')} ({metric} "
            f"{matched[metric]:.3f}), not those of the best checkpoint (epoch "
            f"{best.get('epoch')}, {metric} {best[metric]:.3f}).",
            hint or f"result.get_best_checkpoint(metric={metric!r}, mode={mode!r}).",
        )
    passed(
        f"{label} holds the weights of the best checkpoint (epoch {best.get('epoch')}, "
        f"{metric} {best[metric]:.3f})."
    )


def resumed_after_failure(
    answer: Any, log: Any, trainer: Any = None, epochs: int | None = None, hint: str | None = None
) -> None:
    """Pass when ``answer`` is the ``Result`` of a Ray Train run in which a worker died, the
    controller started a new worker group, and training went on from the epoch after a
    checkpoint reported before the failure (not from epoch 0), as ``log`` (a
    ``raykit.ReportLog`` in its callbacks) saw it; with ``trainer``, that trainer's
    ``FailureConfig`` must allow a failure; with ``epochs``, the run finished its last epoch."""
    if trainer is not None:
        t_label, t_value = resolve(trainer)
        _require_defined(t_label, t_value, hint)
        failure_config = getattr(getattr(t_value, "run_config", None), "failure_config", None)
        if failure_config is None or failure_config.max_failures == 0:
            fail(
                f"the RunConfig of {t_label} lets no worker failure be retried: the first crash "
                "ends the run and fit() raises.",
                hint or "RunConfig(..., failure_config=FailureConfig(max_failures=2)).",
            )
    label, result = _train_result(answer, hint)
    log = _report_log(log)
    if result.path is None:
        fail(f"{label} came from local mode: no worker group ran it.", hint)
    failures = log.failures(result)
    attempts = log.attempts(result)
    if not failures:
        fail(
            f"no worker failed in {label}'s run (or the ReportLog was not in its callbacks).",
            hint
            or "pass crash_at and crash_marker in train_loop_config, and the ReportLog in "
            "RunConfig(callbacks=[...]).",
        )
    if len(attempts) < 2 or not attempts[1]:
        fail(f"{label}'s run reported nothing after the failure.", hint)
    resumed = attempts[1][0].metrics[0].get("epoch")
    saved = [r.metrics[0].get("epoch") for r in attempts[0] if r.checkpoint]
    if resumed == 0:
        fail(
            f"after the failure, {label}'s run started over at epoch 0.",
            hint or "load ray.train.get_checkpoint() at the start of the training function.",
        )
    if resumed is None or resumed - 1 not in saved:
        fail(f"after the failure, {label}'s run went on at epoch {resumed}, after no checkpoint.")
    last = attempts[-1][-1].metrics[0].get("epoch")
    if epochs is not None and last != epochs - 1:
        fail(f"{label}'s run stopped at epoch {last}, not {epochs - 1}.", hint)
    rank, error = next(iter(failures[0].errors.items()))
    passed(
        f"in {label}'s run rank {rank} died ({error.split(':')[0]}); a new worker group resumed "
        f"at epoch {resumed}, after the checkpoint of epoch {resumed - 1}, and finished epoch "
        f"{last}."
    )


# -- The capstone (lesson 12): each stage judged from what Ray recorded of the learner's work -----


def capstone_data(train: Any, val: Any, every: int = 5, hint: str | None = None) -> None:
    """Pass when ``train`` and ``val`` are Ray Data ``Dataset``s built from a read of the digits
    training files (a Parquet read in the plan) and a ``map_batches`` step, that, when run, hold
    every training image exactly once: ``val`` those whose ``image_id % every == 0``, ``train``
    the others, with ``pixels`` scaled from 0..16 to 0..1 (divided by 16)."""
    import numpy as np

    from ._capstone import pixels_matrix
    from ._datasets import load_dataset

    frames = {}
    for answer in (train, val):
        label, dataset = _dataset(answer, hint)
        text, plan = _physical_plan(dataset)
        for step, why in (
            ("Parquet", "start from ray.data.read_parquet(dataset_path('digits/train'))."),
            ("MapBatches", "scale the pixels with .map_batches(your_function)"),
        ):
            if step not in text:
                fail(f"the plan of {label} has no {step} step. Its plan: {plan}.", hint or why)
        frames[label] = _run_to_pandas(label, dataset, hint)
    (train_label, got_train), (val_label, got_val) = frames.items()
    source = load_dataset("digits/train").set_index("image_id")
    for label, frame in frames.items():
        absent = [c for c in ("image_id", "pixels", "label") if c not in frame.columns]
        if absent:
            fail(f"{label} has no column {absent[0]!r}; its columns: {list(frame.columns)}.", hint)
    train_ids, val_ids = set(got_train["image_id"]), set(got_val["image_id"])
    want_val = {int(i) for i in source.index if i % every == 0}
    if train_ids & val_ids:
        fail(
            f"{len(train_ids & val_ids)} images are in both {train_label} and {val_label}: a "
            "validation score on images the model trained on flatters it.",
            hint or f"filter each side with the opposite test: image_id % {every} == 0 or != 0.",
        )
    if val_ids != want_val or train_ids != set(map(int, source.index)) - want_val:
        fail(
            f"{val_label} holds {len(val_ids)} images and {train_label} {len(train_ids)}; the "
            f"split asks for the {len(want_val)} whose image_id % {every} == 0 in {val_label} "
            "and all the others in the training set.",
            hint or f".filter(lambda row: row['image_id'] % {every} == 0) for validation.",
        )
    for label, frame in frames.items():
        pixels = pixels_matrix(frame["pixels"])
        expected = pixels_matrix(source.loc[frame["image_id"], "pixels"]) / 16.0
        if pixels.max() > 1.0 + 1e-6:
            fail(
                f"the pixels of {label} go up to {pixels.max():g}: not scaled to 0..1.",
                hint or "divide the pixels by 16 in the function you give map_batches.",
            )
        if not np.allclose(pixels, expected, atol=1e-6):
            fail(f"the pixels of {label} are not the source's pixels divided by 16.", hint)
        if list(frame["label"]) != list(source.loc[frame["image_id"], "label"]):
            fail(f"the labels of {label} no longer match their images.", hint)
    passed(
        f"{train_label}: {len(train_ids)} images, {val_label}: {len(val_ids)} images, none in "
        "both, pixels scaled to 0..1; read by Ray Data's Parquet reader and scaled in MapBatches."
    )


def _digits_accuracy(state: dict, build_model: Any, frame: Any) -> tuple[int, int]:
    """(correct, total) of the MLP with ``state`` on the scaled images of ``frame``."""
    import torch

    from ._capstone import pixels_matrix

    hidden = next(v for k, v in state.items() if k.endswith("weight")).shape[0]
    model = build_model(hidden)
    model.load_state_dict(state)
    model.eval()
    x = torch.tensor(pixels_matrix(frame["pixels"]), dtype=torch.float32)
    with torch.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    return int((predicted == frame["label"].to_numpy()).sum()), len(frame)


def _scores_as_reported(
    label: str, path: Any, build_model: Any, val: Any, value: float, metric: str, hint
) -> tuple[int, int]:
    """Load ``model.pt`` from the checkpoint at ``path``, score it on ``val`` (a Dataset or a
    DataFrame of scaled images) and fail unless it scores the reported ``value`` (one image of
    slack: batch sizes change float rounding); returns (correct, total)."""
    from pathlib import Path

    import torch
    from ray.train import Checkpoint

    with Checkpoint(str(path)).as_directory() as folder:
        file = Path(folder) / "model.pt"
        if not file.is_file():
            fail(
                f"the checkpoint of {label} has no model.pt (it holds "
                f"{sorted(p.name for p in Path(folder).iterdir())}).",
                hint or "torch.save(model.state_dict(), Path(folder) / 'model.pt').",
            )
        state = torch.load(file, map_location="cpu")
    state = state.get("model", state) if isinstance(state, dict) else state
    import pandas as pd

    frame = val if isinstance(val, pd.DataFrame) else val.to_pandas()
    try:
        correct, total = _digits_accuracy(state, build_model, frame)
    except (RuntimeError, KeyError, StopIteration, AttributeError) as exc:
        fail(f"the weights in the checkpoint of {label} do not load: {_first_line(exc)}", hint)
    if abs(correct / total - value) > 1.0 / total + 1e-9:
        fail(
            f"{label} reported {metric}={value:.4f}, but the weights in its checkpoint score "
            f"{correct}/{total} = {correct / total:.4f} on the validation set.",
            hint
            or "after each epoch, score the model on the 'val' shard and report that accuracy "
            "with a checkpoint of those same weights.",
        )
    return correct, total


def capstone_local_run(
    answer: Any,
    build_model: Any,
    val: Any,
    metric: str = "val_accuracy",
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is the ``Result`` of a Ray Train run in local mode
    (``ScalingConfig(num_workers=0)``) of one epoch (its last report says ``epoch`` 0) that
    reported ``metric``, a fraction, with a checkpoint. Local mode keeps no copy of a checkpoint:
    when its folder still exists, its ``model.pt`` must score ``metric`` on ``val``, recomputed
    here (a temporary folder is gone by now; ``capstone_tuned`` then checks the weights of the
    runs on workers, whose checkpoints Ray Train copies to storage)."""
    import numbers
    from pathlib import Path

    label, result = _train_result(answer, hint)
    if result.path is not None:
        fail(
            f"{label} came from a worker group (its run folder is {result.path}), which paid "
            "the worker group's start-up.",
            hint or "ScalingConfig(num_workers=0) runs the training function in this process.",
        )
    metrics = result.metrics or {}
    value = metrics.get(metric)
    if not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        fail(
            f"{label}'s last report holds no fraction named {metric!r} (it holds "
            f"{ {k: v for k, v in metrics.items()} or 'nothing' }).",
            hint or f'report it: ray.train.report({{"{metric}": ..., "epoch": epoch}}, ...).',
        )
    if metrics.get("epoch") != 0:
        fail(
            f"the last report in {label} is from epoch {metrics.get('epoch')!r}, not epoch 0: "
            "the run was not one epoch (or did not report its epoch).",
            hint or "pass train_loop_config={**hyperparameters, 'epochs': 1} and report 'epoch'.",
        )
    if result.checkpoint is None:
        fail(
            f"{label} has no checkpoint: Tune and Serve need the weights.",
            hint or "ray.train.report(metrics, checkpoint=Checkpoint.from_directory(folder)).",
        )
    if Path(result.checkpoint.path).is_dir():
        correct, total = _scores_as_reported(
            label, result.checkpoint.path, build_model, val, value, metric, hint
        )
        scored = f"its checkpoint's weights score {correct}/{total} on validation, as reported"
    else:
        scored = (
            f"it reported {metric}={value:.3f} with a checkpoint (local mode keeps no copy of "
            "its folder; Stage 3's check scores the weights the runs on workers saved)"
        )
    passed(f"{label} ran one epoch in this process (local mode); {scored}.")


def capstone_tuned(
    answer: Any,
    grid: dict,
    build_model: Any,
    val: Any,
    metric: str = "val_accuracy",
    mode: str = "max",
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is the ``ResultGrid`` of a Tune run in which each trial ran a Ray
    Train run: one trial per value in ``grid`` (``{"lr": [0.003, 0.03]}``), none failed, each
    reported ``metric`` and the path of a Train checkpoint holding ``model.pt`` (what
    ``TuneReportCallback`` forwards) whose weights, in ``build_model(hidden)``, score that
    ``metric`` on ``val`` (recomputed here), and ``get_best_result()`` ranks by ``metric`` and
    ``mode``."""
    import itertools
    import numbers
    from collections import Counter

    from ray import tune

    from .exceptions import ConfigError

    if mode not in ("max", "min") or not isinstance(grid, dict) or not grid:
        raise ConfigError(f"mode={mode!r} must be 'max' or 'min', grid={grid!r} a non-empty dict.")
    label, value = resolve(answer)
    _require_defined(label, value, hint or "run your Tuner and keep what .fit() returns.")
    if isinstance(value, tune.Tuner):
        fail(f"{label} is the Tuner itself.", hint or "keep what tuner.fit() returns.")
    if not isinstance(value, tune.ResultGrid):
        fail(f"{label} is a {type(value).__name__}, not the ResultGrid Tuner.fit() returns.", hint)
    trials = list(value)
    failed = [r for r in trials if r.error is not None]
    if failed:
        fail(
            f"{len(failed)} of the {len(trials)} trials in {label} failed: "
            f"{_first_line(failed[0].error)}",
            hint
            or "Tune runs your driver function; it builds a TorchTrainer of train_loop and calls "
            "fit(). train_loop itself runs only inside Ray Train's workers.",
        )
    names = list(grid)
    got = Counter(tuple(r.config.get(n) for n in names) for r in trials)
    wanted = Counter(itertools.product(*grid.values()))
    if got != wanted:
        shown = ", ".join(f"{n}={sorted({str(r.config.get(n)) for r in trials})}" for n in names)
        fail(
            f"{label} has {len(trials)} trial(s), with {shown}; the search asks for one per "
            + ", ".join(f"{n} in {v}" for n, v in grid.items())
            + ".",
            hint or "param_space={..., 'lr': tune.grid_search([...])}: one trial per value.",
        )
    for result in trials:
        metrics = result.metrics or {}
        if not isinstance(metrics.get(metric), numbers.Real):
            fail(
                f"a trial of {label} reported no {metric!r} to Tune (it reported "
                f"{sorted(k for k in metrics if not k.startswith(('config', 'time', 'date')))}).",
                hint
                or "the Train run's reports reach Tune through RunConfig(callbacks="
                "[TuneReportCallback()]) of the TorchTrainer inside the driver function.",
            )
        path = metrics.get("checkpoint_path")
        if not path:
            fail(
                f"a trial of {label} forwarded no checkpoint: Serve needs the best one.",
                hint
                or "report a checkpoint with the metrics in train_loop, and pass "
                "callbacks=[TuneReportCallback()] to the TorchTrainer's RunConfig.",
            )
        _scores_as_reported(
            f"a trial of {label}", path, build_model, val, metrics[metric], metric, hint
        )
    try:
        chosen = value.get_best_result()
    except (ValueError, RuntimeError):
        fail(
            f"{label}.get_best_result() does not know which metric to rank by.",
            hint or f'tune_config=tune.TuneConfig(metric="{metric}", mode="{mode}", ...).',
        )
    values = [r.metrics[metric] for r in trials]
    target = max(values) if mode == "max" else min(values)
    if chosen.metrics.get(metric) != target:
        fail(
            f"{label}.get_best_result() picks {metric}={chosen.metrics.get(metric)!r}, not the "
            f"{'highest' if mode == 'max' else 'lowest'} ({target!r}).",
            hint or f'TuneConfig(metric="{metric}", mode="{mode}") says which way is better.',
        )
    shown = ", ".join(f"{n}={chosen.config.get(n)}" for n in names)
    passed(
        f"{label}: {len(trials)} trials, each a Ray Train run that sent Tune its {metric} and "
        f"a checkpoint whose weights score it; the best has {shown}, {metric}={target:.3f}."
    )


def capstone_service(
    answer: Any,
    app: str,
    dashboard: str,
    url: str,
    payloads: Any,
    expected: Any,
    hint: str | None = None,
) -> None:
    """Pass when the file at path ``answer`` is a Serve config (Serve's own schema accepts it,
    its HTTP proxy, if set, on a loopback address) naming application ``app``, which Serve runs
    from that config (``source: declarative`` in Serve's REST API at ``dashboard``, RUNNING in
    ``serve.status()``), and which answers each payload POSTed to ``url`` with its ``expected``
    dict over real HTTP."""
    import ipaddress

    from . import _serve
    from ._capstone import serve_app_details

    label, name, raw, config = _read_serve_config(answer, hint)
    host = str(((raw or {}).get("http_options") or {}).get("host", "127.0.0.1"))
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        fail(
            f"{name} puts Serve's HTTP proxy on {host}: reachable from the network.",
            hint or "http_options: {host: 127.0.0.1, port: ...}.",
        )
    if app not in [a.name for a in config.applications]:
        fail(f"{name} names no application {app!r}.", hint)
    _serve_app_running(
        app,
        hint or "send the file to Serve: serve deploy <file> --address <dashboard>.",
        _serve.CONFIG_APPEAR_S,
    )
    details = serve_app_details(dashboard, app) or {}
    source = str(details.get("source", "unknown"))
    if source != "declarative":
        fail(
            f"Serve runs {app!r}, but from {source} code (serve.run), not from a config file.",
            hint or f"deploy the file: !serve deploy {name} --address <dashboard>.",
        )
    n = _serve_http(url, payloads, expected, hint)
    passed(
        f"{label}: Serve runs {app!r} from your config file (source: declarative), RUNNING, and "
        f"{url} answered {n} held-out images over HTTP as the best checkpoint does."
    )


def capstone_job(
    answer: Any,
    address: str,
    script: str,
    env_vars: list,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is the id of a job submitted to the cluster whose Job API is at
    ``address`` (the dashboard), whose entrypoint runs ``script`` with a ``working_dir`` and every
    variable in ``env_vars`` in its runtime environment, and which ends SUCCEEDED, as the job
    client reports (the check waits for the job to end)."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    from . import _capstone
    from ._wait import WaitTimedOut, wait_until

    label, value = resolve(answer)
    _require_defined(label, value, hint)
    if not isinstance(value, str):
        fail(
            f"{label} is a {type(value).__name__}, not a job id.",
            hint or "keep what client.submit_job(...) returns: the job's id, a string.",
        )
    client = JobSubmissionClient(address)
    try:
        info = client.get_job_info(value)
    except RuntimeError:
        fail(
            f"the cluster knows no job {value!r} (client.list_jobs() lists those it knows).",
            hint or "keep what client.submit_job(...) returns.",
        )
    if script not in str(info.entrypoint).split():
        fail(f"the entrypoint of job {value} is {info.entrypoint!r}; it does not run {script}.")
    env = info.runtime_env or {}
    if not env.get("working_dir"):
        fail(
            f"job {value} has no working_dir in its runtime_env: the cluster has no {script}.",
            hint or "runtime_env={'working_dir': str(JOB_DIR), ...} uploads the folder.",
        )
    missing = [n for n in env_vars if n not in (env.get("env_vars") or {})]
    if missing:
        fail(
            f"the runtime_env of job {value} does not set {', '.join(missing)}.",
            hint or "runtime_env={..., 'env_vars': {'NAME': 'value', ...}} (strings).",
        )
    try:
        wait_until(
            lambda: client.get_job_status(value).is_terminal(),
            timeout_s=_capstone.JOB_WAIT_S,
            every_s=1,
            what=f"job {value} to end",
        )
    except WaitTimedOut:
        fail(f"job {value} had not ended after {_capstone.JOB_WAIT_S:.0f} s.", hint)
    info = client.get_job_info(value)
    if info.status != JobStatus.SUCCEEDED:
        tail = _capstone.logs_tail(client.get_job_logs(value))
        fail(
            f"job {value} ended {info.status.value}: {info.message or ''} Its logs end: {tail}",
            hint or f"read print(client.get_job_logs({label.strip('`')})) in full.",
        )
    seconds = (info.end_time - info.start_time) / 1000
    passed(
        f"{label}: job {value} ran {script} with {', '.join(env_vars)} set and its working_dir "
        f"uploaded, and SUCCEEDED in {seconds:.1f} s (as the job client reports)."
    )


# --- RLlib (lesson 14): judged from the built Algorithm, its metrics and a checkpoint's weights ---


def _rllib_algorithm(answer: Any, hint: str | None) -> tuple[str, Any]:
    """``(label, algo)`` for an answer that must be a built RLlib ``Algorithm``."""
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    label, value = resolve(answer, depth=3)
    _require_defined(label, value, hint or "build it with config.build_algo(), then train it.")
    if isinstance(value, AlgorithmConfig):
        fail(
            f"{label} is the config (a {type(value).__name__}), not an algorithm.",
            hint or "build one from it: my_algo = my_config.build_algo(), then my_algo.train().",
        )
    if not isinstance(value, Algorithm):
        fail(f"{label} is a {type(value).__name__}, not an RLlib Algorithm.", hint)
    return label, value


def _real_numbers(values: Any) -> bool:
    import numbers

    return isinstance(values, (list, tuple)) and all(
        isinstance(v, numbers.Real) and v == v for v in values
    )


def retrained(
    answer: Any,
    returns: Any,
    base: Any,
    field: str,
    iterations: int,
    baseline: Any = None,
    hint: str | None = None,
) -> None:
    """Pass when ``answer`` is an RLlib ``Algorithm`` built from ``base`` (an ``AlgorithmConfig``)
    with the hyper-parameter ``field`` changed (read from ``answer.config``), on the same
    environment, that trained at least ``iterations`` iterations (``answer.iteration``), and when
    ``returns`` holds a number per iteration (its ``episode_return_mean`` curve; RLlib keeps no
    past iterations' results to compare with). ``baseline`` (the lesson's curve) is printed
    beside it."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    from .exceptions import ConfigError

    if not isinstance(base, AlgorithmConfig):
        raise ConfigError(f"base={base!r} must be the AlgorithmConfig the lesson trained with.")
    if not isinstance(field, str) or not hasattr(base, field):
        raise ConfigError(f"field={field!r} is not a field of {type(base).__name__}.")
    if not isinstance(iterations, int) or iterations < 1:
        raise ConfigError(f"iterations={iterations!r} must be a whole number >= 1.")
    if baseline is not None and not _real_numbers(baseline):
        raise ConfigError(f"baseline={baseline!r} must be a list of numbers (a curve).")
    label, algo = _rllib_algorithm(answer, hint)
    mine, lesson = getattr(algo.config, field), getattr(base, field)
    if mine == lesson:
        fail(
            f"{label} was built with {field}={mine!r}, the lesson's own value.",
            hint or f"change it in a copy: config.copy(copy_frozen=False).training({field}=...).",
        )
    if algo.config.env != base.env:
        fail(
            f"{label} learns {algo.config.env!r}, not the lesson's {base.env!r}: two curves on "
            "different environments say nothing about the hyper-parameter.",
            hint or "start from the lesson's config: config.copy(copy_frozen=False).",
        )
    if algo.iteration < iterations:
        fail(
            f"{label} trained {algo.iteration} iteration(s) (its own counter, "
            f"{label.strip('`')}.iteration), not {iterations}.",
            hint or f"call {label.strip('`')}.train() {iterations} times.",
        )
    r_label, curve = resolve(returns, depth=2)
    _require_defined(r_label, curve, hint or "append each result's episode_return_mean to it.")
    if not _real_numbers(curve) or len(curve) != algo.iteration:
        shown = len(curve) if isinstance(curve, (list, tuple)) else type(curve).__name__
        fail(
            f"{r_label} should hold one episode_return_mean per iteration of {label} "
            f"({algo.iteration} numbers); it holds {shown}.",
            hint or 'append result["env_runners"]["episode_return_mean"] after each train().',
        )
    compared = ""
    if baseline:
        n = min(len(baseline), len(curve))
        compared = (
            f"; the lesson's run ({field}={lesson!r}) had {baseline[n - 1]:.1f} at iteration {n}"
        )
    passed(
        f"{label} trained {algo.iteration} iterations with {field}={mine!r}: episode_return_mean "
        f"{curve[0]:.1f} -> {curve[-1]:.1f}{compared}."
    )


def policy_restored(answer: Any, checkpoint: Any, seeds: Any, hint: str | None = None) -> None:
    """Pass when ``answer`` (an ``RLModule``, or an ``Algorithm`` whose module is used) holds the
    very weights of the policy saved in the algorithm checkpoint folder ``checkpoint`` (each
    tensor of the two state dicts compared with NumPy), and plays the same greedy episodes: one
    CartPole episode per seed in ``seeds``, the same returns as the saved policy."""
    import numpy as np
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.core.rl_module.rl_module import RLModule

    from . import _rllib

    path = _rllib.module_path(checkpoint)
    label, value = resolve(answer)
    _require_defined(
        label, value, hint or "restore it with RLModule.from_checkpoint(<the module's folder>)."
    )
    module = value.get_module() if isinstance(value, Algorithm) else value
    if not isinstance(module, RLModule):
        fail(
            f"{label} is a {type(value).__name__}, not an RLModule (nor an Algorithm).",
            hint or "RLModule.from_checkpoint(path) returns the policy network itself.",
        )
    saved = RLModule.from_checkpoint(str(path))
    mine, theirs = module.get_state(), saved.get_state()
    # An inference-only copy (an env runner's) holds the policy's tensors and no value function.
    if not mine or not set(mine) <= set(theirs):
        fail(
            f"{label} has other layers than the saved policy ({len(mine)} tensors, the "
            f"checkpoint's {len(theirs)}): it is not the same kind of network.",
            hint,
        )
    differ = [k for k in mine if not np.array_equal(np.asarray(mine[k]), np.asarray(theirs[k]))]
    if differ:
        gap = max(
            float(np.max(np.abs(np.asarray(mine[k]) - np.asarray(theirs[k])))) for k in differ
        )
        fail(
            f"{len(differ)} of the {len(mine)} weight tensors of {label} differ from the "
            f"checkpoint's (largest difference {gap:.3g}): it is not the saved policy.",
            hint
            or "restore from the checkpoint folder that algo.save_to_path() returned, "
            "not a freshly built or further trained one.",
        )
    got = _rllib.greedy_returns(module, seeds)
    expected = _rllib.greedy_returns(saved, seeds)
    if got != expected:
        fail(
            f"{label} has the saved weights but plays other episodes: mean return "
            f"{np.mean(got):.1f}, the saved policy's {np.mean(expected):.1f}.",
            hint,
        )
    held = f"{len(mine)} weight tensors" + (
        f" (the policy's {len(mine)} of {len(theirs)}: an inference-only copy)"
        if len(mine) < len(theirs)
        else ""
    )
    passed(
        f"{label} holds the checkpoint's {held} exactly, and over the same {len(got)} seeded "
        f"episodes returns {np.mean(got):.1f} on average, as the saved policy."
    )
