"""Exercises: ``%%solution`` stores a hidden solution; ``raykit.exercise`` judges the learner.

An exercise is four cells: the question (markdown), the learner's cell (tagged ``exercise``), the
hidden solution (tagged ``solution``, starting with ``%%solution <lesson>.<name>``) and the check
(tagged ``self-check``)::

    with raykit.exercise("01.fix-loop", names=["fixed_refs", "fixed_squares"]):
        raykit.check.ran_concurrently("fixed_refs")

Running the solution cell only stores its code, so Run All never writes over a learner's answer.
The check runs the stored solution only when the learner left every name in ``names`` undefined
(or they still hold what the solution put there on an earlier run), and then says so. When some
names are the learner's and others are missing, nothing is filled in: the check judges what is
there and its hint names what is missing. ``RAYKIT_SOLUTIONS=off`` never fills in (grading).
"""

from __future__ import annotations

import ast
import json
import linecache
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _progress, check
from .check import CheckFailed
from .exceptions import ConfigError, RaykitError

log = logging.getLogger(__name__)

SOLUTIONS_ENV = "RAYKIT_SOLUTIONS"
GRADE_LOG_ENV = "RAYKIT_GRADE_LOG"
_ID = re.compile(r"^[A-Za-z0-9_]+\.[A-Za-z0-9][A-Za-z0-9_-]*$")
_MAGIC_LINE = re.compile(r"^%%solution[ \t]+(\S+)[ \t]*$")

# Solutions by exercise id: (the text a learner reads, the code that runs).
_solutions: dict[str, tuple[str, str]] = {}
# What each exercise's solution put in the namespace when it last ran, by name. A name whose value
# is still that object (and that no cell has assigned since) is the solution's, not the learner's.
_filled: dict[str, dict[str, Any]] = {}
_hooked_shells: set[int] = set()


class SolutionError(RaykitError):
    """The kit's own solution of an exercise failed: a fault in the lesson, not the learner's."""


def solutions_enabled() -> bool:
    """False when ``RAYKIT_SOLUTIONS`` is ``off`` (or 0/false/no): checks never fill in."""
    value = os.environ.get(SOLUTIONS_ENV, "on").strip().lower()
    return value not in ("off", "0", "false", "no")


def _validate_id(exercise_id: Any, argument: str = "exercise_id") -> str:
    if not isinstance(exercise_id, str) or not _ID.match(exercise_id):
        raise ConfigError(
            f"{argument}={exercise_id!r} is not an exercise id. Write '<lesson>.<name>', "
            "e.g. '01.fix-loop' (letters, digits, '-' and '_')."
        )
    return exercise_id


def register_solution(exercise_id: str, code: str, runnable: str | None = None) -> None:
    """Store ``code`` as the solution of ``exercise_id`` (what ``%%solution`` does); it is not run.

    ``runnable`` is the code to execute when it differs from the text shown (IPython syntax
    turned into Python); ``code`` itself by default. A syntax error is reported at once.
    """
    _validate_id(exercise_id)
    runnable = code if runnable is None else runnable
    try:
        compile(runnable, f"<solution {exercise_id}>", "exec")
    except SyntaxError as exc:
        raise SolutionError(
            f"the solution of {exercise_id} is not valid Python (line {exc.lineno}: {exc.msg}). "
            "This is a fault in the lesson, not in your answer."
        ) from None
    _solutions[exercise_id] = (code, runnable)


def solution(exercise_id: str, insert: bool = True) -> None:
    """Show the solution of an exercise: printed, and put in a new cell below in JupyterLab.

    Parameters
    ----------
    exercise_id
        The id the exercise's check names, e.g. ``"01.fix-loop"``.
    insert
        Also put the code in a new cell below the current one (IPython's ``set_next_input``),
        ready to read, change and run. Run it there to use the solution as your answer.
    """
    _validate_id(exercise_id)
    if exercise_id not in _solutions:
        known = ", ".join(sorted(_solutions)) or "none yet"
        raise ConfigError(
            f"exercise_id={exercise_id!r} has no solution stored in this kernel (stored: {known}). "
            "Run that exercise's hidden solution cell first: it stores the solution without "
            "running it."
        )
    text = _solutions[exercise_id][0]
    print(f"Solution of {exercise_id}:\n\n{text}")
    shell = _ipython()
    if insert and shell is not None:
        shell.set_next_input(text, replace=False)


def _ipython():
    """The running IPython shell, or None; never imports IPython when it is not loaded."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def _solution_magic(line: str, cell: str) -> None:
    """``%%solution <lesson>.<name>``: store the cell as that exercise's solution, not run it."""
    exercise_id = _validate_id(line.strip(), "the %%solution line")
    shell = _ipython()
    runnable = shell.transform_cell(cell) if shell is not None else cell
    register_solution(exercise_id, cell.strip("\n") + "\n", runnable)
    print(
        f"Solution of {exercise_id} stored, not run: your answer stays yours. The check below "
        "uses it only if you leave the exercise blank."
    )


def register_magic(shell=None) -> bool:
    """Register the ``%%solution`` cell magic in IPython (again is harmless); False outside it."""
    shell = shell or _ipython()
    if shell is None:
        return False
    shell.register_magic_function(_solution_magic, magic_kind="cell", magic_name="solution")
    if id(shell) not in _hooked_shells:
        shell.events.register("pre_run_cell", _forget_assigned_names)
        _hooked_shells.add(id(shell))
    return True


def _forget_assigned_names(info) -> None:
    """Before each cell runs: names it assigns are the learner's from now on, even when the new
    value is the very same object (small ints and strings are shared by Python)."""
    if not _filled:
        return
    source = getattr(info, "raw_cell", "") or ""
    shell = _ipython()
    try:
        tree = ast.parse(shell.transform_cell(source) if shell is not None else source)
    except SyntaxError:
        return
    assigned = _assigned_names(tree)
    for names in _filled.values():
        for name in assigned & set(names):
            del names[name]


def _assigned_names(tree: ast.AST) -> set[str]:
    """Global names a module's top level binds or deletes (not names local to a function)."""
    found: set[str] = set()
    scoped = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    comprehensions = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

    def visit(node: ast.AST) -> None:
        if isinstance(node, scoped):  # binds its own name; its body's names are local
            if not isinstance(node, ast.Lambda):
                found.add(node.name)
            return
        if isinstance(node, comprehensions):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            found.add(node.id)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


class Exercise:
    """The context of an exercise's check; made by :func:`exercise`. After the block,
    ``status`` is ``"solved by you"``, ``"solution used"`` or ``"not yet"``."""

    def __init__(self, exercise_id: str, names: list[str], namespace: dict):
        self.id = _validate_id(exercise_id)
        if (
            isinstance(names, str)
            or not names
            or not all(isinstance(n, str) and n.isidentifier() for n in names)
        ):
            raise ConfigError(
                f"names={names!r} must be a non-empty list of the variable names the check "
                "judges, e.g. names=['fixed_refs', 'fixed_squares']."
            )
        self.names = list(names)
        self.namespace = namespace
        self.by: str | None = None  # "learner" or "solution", once the block has started
        self.status: str | None = None
        self._yours: list[str] = []
        self._hidden: set[str] = set()

    def _owner(self, name: str) -> str:
        if name not in self.namespace:
            return "missing"
        filled = _filled.get(self.id, {})
        if name in filled and self.namespace[name] is filled[name]:
            return "solution"
        return "learner"

    def __enter__(self) -> Exercise:
        owners = {name: self._owner(name) for name in self.names}
        self._yours = [n for n, o in owners.items() if o == "learner"]
        if not self._yours and solutions_enabled() and self.id in _solutions:
            self._run_solution()
            self.by = "solution"
        else:
            self.by = "learner"
            # The solution's leftovers are not the learner's answer: the checks see them as
            # undefined, so a half-rewritten answer is not completed by the kit's code.
            self._hidden = {n for n, o in owners.items() if o == "solution"}
            check._HIDDEN.update(self._hidden)
            if not self._yours and solutions_enabled():
                print(
                    f"(The hidden solution cell of {self.id} has not run in this kernel, so "
                    "nothing is filled in.)"
                )
        return self

    def _run_solution(self) -> None:
        shown = ", ".join(f"`{n}`" for n in self.names)
        print(
            f"Nothing of yours for {shown} yet: running the kit's solution of {self.id} so the "
            "rest of the lesson works."
        )
        filename = f"<solution {self.id}>"
        code = _solutions[self.id][1]
        # Registered with linecache so that a traceback through the solution shows its lines.
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            exec(compile(code, filename, "exec"), self.namespace)
        except Exception as exc:
            raise SolutionError(
                f"the kit's solution of {self.id} failed with {type(exc).__name__}: {exc}. "
                "This is a fault in the lesson, not in your answer."
            ) from exc
        undefined = [n for n in self.names if n not in self.namespace]
        if undefined:
            raise SolutionError(
                f"the kit's solution of {self.id} did not define {undefined}: a fault in the "
                "lesson, not in your answer."
            )
        _filled[self.id] = {n: self.namespace[n] for n in self.names}

    def __exit__(self, exc_type, exc, tb) -> bool:
        check._HIDDEN.difference_update(self._hidden)
        if exc_type is None:
            self.status = _progress.SOLVED if self.by == "learner" else _progress.SOLUTION_USED
            self._say_passed()
            self._record("passed", "")
            return False
        if not issubclass(exc_type, Exception):  # KeyboardInterrupt: nothing to judge
            return False
        self.status = _progress.NOT_YET
        message = str(exc) if isinstance(exc, CheckFailed) else f"{exc_type.__name__}: {exc}"
        if self.by == "solution" and isinstance(exc, CheckFailed):
            self._record("error", message)
            raise SolutionError(
                f"the kit's solution of {self.id} did not pass its own check ({message}). "
                "This is a fault in the lesson, not in your answer."
            ) from exc
        self._record("failed", message)
        missing = [n for n in self.names if n not in self._yours]
        if self._yours and missing and isinstance(exc, CheckFailed):
            print(
                f"{self.id}: you defined {_listing(self._yours)} but not {_listing(missing)}. "
                "The solution fills in only when all are left undefined; "
                f'raykit.solution("{self.id}") shows it.'
            )
        return False

    def _say_passed(self) -> None:
        if self.by == "learner":
            print(f"\u2713 {self.id}: solved by you.")
            return
        print(
            f"\u2713 {self.id}: passed with the kit's solution, not your code (the exercise "
            "cell above was left blank).\n  To do it yourself: write your answer in that cell, "
            "run it, then run this check again."
        )

    def _record(self, outcome: str, message: str) -> None:
        when = _progress.now()
        if self.status is not None:
            _progress.record_exercise(self.id, self.status, when)
        _append_grade_log(
            {
                "exercise": self.id,
                "status": outcome,
                "by": self.by,
                "message": message,
                "time": when,
            }
        )


def exercise(exercise_id: str, names: list[str]) -> Exercise:
    """The check of an exercise: a ``with`` block around its ``raykit.check`` calls.

    On entering, when every name in ``names`` is undefined (the learner skipped the exercise)
    and the solution cell has run, the stored solution runs in the notebook's namespace and
    the block reports that the kit's code, not the learner's, passed. Otherwise the checks judge
    what the learner wrote. On leaving, the outcome is printed and recorded in the progress file
    (``raykit progress``); a failed check shows its hint and fails the cell.

    Parameters
    ----------
    exercise_id
        ``"<lesson>.<name>"``, as on the solution cell's ``%%solution`` line.
    names
        The variables the checks judge.

    Returns
    -------
    Exercise
        The context manager; its ``status`` is set when the block ends.
    """
    return Exercise(exercise_id, names, sys._getframe(1).f_globals)


def _listing(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _append_grade_log(entry: dict) -> None:
    """One JSON line per check to the file ``RAYKIT_GRADE_LOG`` names (set by ``raykit grade``)."""
    path = os.environ.get(GRADE_LOG_ENV)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError as exc:
        log.warning("raykit: could not write the grade log %s: %s", path, exc)


@dataclass
class ExerciseCells:
    """Where an exercise sits in a notebook (cell indices) and what its cells hold."""

    id: str
    names: list[str]
    check_index: int | None
    solution_index: int | None = None
    exercise_index: int | None = None
    solution_code: str | None = None  # without its %%solution line
    problems: list[str] = field(default_factory=list)


def parse_check(source: str) -> tuple[str, list[str]] | None:
    """``(id, names)`` of the ``raykit.exercise(...)`` call in a check cell's source, or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name != "exercise" or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        names = []
        for keyword in node.keywords:
            if keyword.arg == "names" and isinstance(keyword.value, ast.List | ast.Tuple):
                names = [e.value for e in keyword.value.elts if isinstance(e, ast.Constant)]
        if len(node.args) > 1 and isinstance(node.args[1], ast.List | ast.Tuple):
            names = [e.value for e in node.args[1].elts if isinstance(e, ast.Constant)]
        return str(node.args[0].value), names
    return None


def split_solution(source: str) -> tuple[str | None, str]:
    """``(id, code)`` of a solution cell: the id on its ``%%solution`` line and the code after."""
    first, _, rest = source.partition("\n")
    match = _MAGIC_LINE.match(first.strip())
    if not match:
        return None, source
    return match.group(1), rest.strip("\n") + "\n"


def find_exercises(notebook: Any) -> list[ExerciseCells]:
    """The exercises of a notebook (a path or an nbformat notebook), in order: one per check cell
    (tagged ``self-check``) that opens ``raykit.exercise(...)``, with its solution and learner
    cells when they stand right before it, and per solution cell whose check is gone.
    ``problems`` lists what breaks the layout."""
    import nbformat

    nb = notebook if hasattr(notebook, "cells") else nbformat.read(Path(notebook), as_version=4)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    found: list[ExerciseCells] = []
    for position, (index, cell) in enumerate(code):
        if "self-check" not in cell.metadata.get("tags", []):
            continue
        parsed = parse_check(cell.source)
        if parsed is None:
            continue
        item = ExerciseCells(parsed[0], parsed[1], index)
        before = [c for c in code[max(0, position - 2) : position]]
        if before and "solution" in before[-1][1].metadata.get("tags", []):
            sol_index, sol = before[-1]
            item.solution_index = sol_index
            sol_id, item.solution_code = split_solution(sol.source)
            if sol_id != item.id:
                item.problems.append(
                    f"the solution cell starts with %%solution {sol_id}, not {item.id}"
                )
            if not sol.metadata.get("jupyter", {}).get("source_hidden"):
                item.problems.append("the solution cell is not hidden (jupyter.source_hidden)")
            if len(before) == 2 and "exercise" in before[0][1].metadata.get("tags", []):
                item.exercise_index = before[0][0]
            else:
                item.problems.append("no cell tagged 'exercise' right before the solution")
        else:
            item.problems.append("no cell tagged 'solution' right before the check")
        if not item.names:
            item.problems.append("raykit.exercise(...) names no variables (names=[...])")
        found.append(item)
    seen = {e.id for e in found}
    for index, cell in code:
        if "solution" in cell.metadata.get("tags", []):
            sol_id, body = split_solution(cell.source)
            if sol_id and sol_id not in seen:
                found.append(
                    ExerciseCells(sol_id, [], None, index, None, body, ["its check cell is gone"])
                )
                seen.add(sol_id)
    return found


register_magic()
