"""Self-checks for exercises: a right answer says so; a wrong one shows a hint, not a traceback.

Each check takes the learner's answer, or its name as a string (looked up in the notebook's
namespace, so a blank exercise gets a hint rather than a ``NameError``). A failing check raises
:class:`CheckFailed`, which IPython renders as the hint alone, and which fails a papermill run.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

_MISSING = object()


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
