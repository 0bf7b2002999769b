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
        shown = repr(value)
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


def ran_on_labelled_node(answer: Any, key: str, value: str, hint: str | None = None) -> None:
    """Pass when ``answer`` is the Ray node id (hex) of a live node whose label ``key`` is
    ``value``, e.g. the id a task returned from ``ray.get_runtime_context().get_node_id()``."""
    import ray

    label, node_id = resolve(answer)
    _require_defined(label, node_id, hint)
    if not isinstance(node_id, str):
        fail(
            f"{label} is a {type(node_id).__name__}, not a node id.",
            hint or "return ray.get_runtime_context().get_node_id() from the task, and ray.get it.",
        )
    if not ray.is_initialized():
        fail("Ray is not running here, so the node cannot be looked up.", "run the cells above.")
    nodes = {n["NodeID"]: n for n in ray.nodes()}
    if node_id not in nodes:
        fail(f"{label} = {node_id[:12]!r}... is not the id of a node of this cluster.", hint)
    labels = nodes[node_id].get("Labels") or {}
    if labels.get(key) != value:
        fail(
            f"{label} is a node whose label {key!r} is {labels.get(key)!r}, not {value!r}.",
            hint or f"pass label_selector={{{key!r}: {value!r}}} in .options(...).",
        )
    passed(f"{label} is a node labelled {key}={value}.")
