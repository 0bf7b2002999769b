"""``raykit grade``: runs learners' notebooks with solutions off and reports every exercise."""

from __future__ import annotations

import json
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ._exercise import GRADE_LOG_ENV, SOLUTIONS_ENV, find_exercises
from ._progress import HOME_ENV
from ._runner import (
    DEFAULT_CELL_TIMEOUT_S,
    NotebookResult,
    _environment,
    _execute,
    _kernel_environment,
    save_and_print,
)
from .exceptions import NotebookError

PASSED, FAILED, NOT_REACHED = "passed", "failed", "not reached"


@dataclass
class ExerciseGrade:
    """One exercise of one submitted notebook: passed, failed (with the check's hint) or not
    reached (its check never ran: the kernel stopped, or the cell is gone)."""

    notebook: str
    exercise: str
    status: str
    message: str = ""


@dataclass
class GradeReport:
    """Every exercise of every graded notebook, as a table, JSON or JUnit XML."""

    grades: list[ExerciseGrade] = field(default_factory=list)
    runs: list[NotebookResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.grades) and all(g.status == PASSED for g in self.grades)

    def counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, NOT_REACHED: 0}
        for grade in self.grades:
            counts[grade.status] += 1
        return counts

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{c[PASSED]} of {len(self.grades)} exercises passed, {c[FAILED]} failed, "
            f"{c[NOT_REACHED]} not reached"
        )

    def table(self) -> str:
        """Plain text: a line per exercise (notebook, exercise, status, hint), then a summary."""
        nb_width = max([len("notebook")] + [len(g.notebook) for g in self.grades])
        ex_width = max([len("exercise")] + [len(g.exercise) for g in self.grades])
        lines = [f"{'notebook':<{nb_width}}  {'exercise':<{ex_width}}  {'status':<11}  detail"]
        for g in self.grades:
            detail = g.message.splitlines()[0] if g.message else ""
            detail = detail if len(detail) <= 90 else detail[:87] + "..."
            lines.append(
                f"{g.notebook:<{nb_width}}  {g.exercise:<{ex_width}}  {g.status:<11}  {detail}"
            )
        lines.append(self.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "summary": self.counts() | {"total": len(self.grades)},
            "exercises": [asdict(g) for g in self.grades],
            "notebooks": [asdict(r) for r in self.runs],
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def write_junit(self, path: str | Path) -> None:
        """One ``testsuite`` per notebook, one ``testcase`` per exercise: a failed check is a
        ``failure`` carrying its hint, an exercise not reached an ``error``."""
        root = ET.Element("testsuites", name="raykit grade")
        for run in self.runs:
            mine = [g for g in self.grades if g.notebook == run.notebook]
            suite = ET.SubElement(
                root,
                "testsuite",
                name=run.notebook,
                tests=str(len(mine)),
                failures=str(sum(g.status == FAILED for g in mine)),
                errors=str(sum(g.status == NOT_REACHED for g in mine)),
                time=f"{run.seconds:.3f}",
            )
            for g in mine:
                case = ET.SubElement(suite, "testcase", classname=run.notebook, name=g.exercise)
                if g.status == FAILED:
                    ET.SubElement(case, "failure", message=g.message[:500]).text = g.message
                elif g.status == NOT_REACHED:
                    ET.SubElement(case, "error", message=NOT_REACHED).text = g.message
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _exercise_ids(path: Path) -> list[str]:
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"notebook not found: {path}. Check the path.") from None
    except Exception as exc:  # nbformat raises several types for unreadable files
        raise NotebookError(f"{path} is not a readable notebook: {exc}") from None
    ids = [e.id for e in find_exercises(nb)]
    if not ids:
        raise NotebookError(
            f"{path} has no exercises: no cell tagged 'self-check' opens "
            "raykit.exercise(...). Grade the lesson notebooks the learners filled in."
        )
    return ids


def _unique_output(out_dir: Path, path: Path, taken: set[str]) -> Path:
    """Learners' copies share names (alice/01_tasks.ipynb, bob/01_tasks.ipynb): keep each."""
    name = path.name if path.name not in taken else f"{path.parent.name}__{path.name}"
    stem, n = Path(name).stem, 2
    while name in taken:
        name, n = f"{stem}-{n}.ipynb", n + 1
    taken.add(name)
    return out_dir / name


def _grades_from(path: Path, ids: list[str], log_path: Path, run: NotebookResult) -> list:
    outcomes: dict[str, dict] = {}
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            outcomes[entry.get("exercise")] = entry  # the last check of an exercise counts
    errors = _check_cell_errors(run.output)
    # With errors allowed, papermill reports a cell's error only once all cells ran (it names the
    # cell); a timeout or a dead kernel stops the run and names none.
    stopped = run.error if run.error and run.cell_index is None else None
    grades = []
    for exercise_id in ids:
        entry = outcomes.get(exercise_id)
        if entry is None:
            why = errors.get(exercise_id) or (
                f"the notebook stopped first ({stopped})" if stopped else "its check never ran"
            )
            grades.append(ExerciseGrade(str(path), exercise_id, NOT_REACHED, why))
        elif entry.get("status") == PASSED and entry.get("by") == "learner":
            grades.append(ExerciseGrade(str(path), exercise_id, PASSED))
        elif entry.get("status") == PASSED:
            message = "the kit's solution answered, not the learner"
            grades.append(ExerciseGrade(str(path), exercise_id, FAILED, message))
        else:
            grades.append(ExerciseGrade(str(path), exercise_id, FAILED, entry.get("message", "")))
    return grades


def _check_cell_errors(executed: str) -> dict[str, str]:
    """The error each check cell of the executed copy raised before its block began."""
    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception:  # the run died before writing it
        return {}
    found = {}
    for item in find_exercises(nb):
        if item.check_index is None:
            continue
        for out in nb.cells[item.check_index].get("outputs", []):
            if out.get("output_type") == "error":
                found[item.id] = f"{out.get('ename')}: {out.get('evalue')}"
    return found


def grade_notebooks(
    notebooks: Iterable[str | Path],
    *,
    output_dir: str | Path = "graded",
    smoke: bool = False,
    timeout: int = DEFAULT_CELL_TIMEOUT_S,
    kernel_name: str | None = None,
    echo: bool = True,
) -> GradeReport:
    """Run learners' notebooks with the solutions switched off and grade every exercise.

    Each notebook runs in a fresh kernel with ``RAYKIT_SOLUTIONS=off`` (a blank answer fails
    instead of being filled in), going on after a failed cell so that every exercise is reached,
    with a progress folder of its own (the grader's progress file is left alone). Each check
    writes its outcome to a log (``RAYKIT_GRADE_LOG``) that the report is built from.

    Parameters
    ----------
    notebooks
        The submitted notebooks. All are read first: a missing file, or one without
        exercises, raises :class:`NotebookError` before any runs.
    output_dir
        Folder for the executed copies.
    smoke
        Small mode (``RAYKIT_SMOKE=1``) for the kernels.
    timeout
        Seconds any one cell may run.
    echo
        Print a line per notebook as it finishes.

    Returns
    -------
    GradeReport
    """
    paths = [Path(p) for p in notebooks]
    if not paths:
        raise NotebookError("no notebooks to grade.")
    ids = {path: _exercise_ids(path) for path in paths}
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report, taken = GradeReport(), set()
    for path in paths:
        output = _unique_output(out_dir, path, taken)
        with tempfile.TemporaryDirectory(prefix="raykit-grade-") as scratch:
            log_path = Path(scratch) / "grade.jsonl"
            env = {SOLUTIONS_ENV: "off", GRADE_LOG_ENV: str(log_path), HOME_ENV: scratch}
            with _environment({**_kernel_environment(smoke), **env}):
                run = _execute(path, output, {}, timeout, kernel_name, allow_errors=True)
            grades = _grades_from(path, ids[path], log_path, run)
        report.runs.append(run)
        report.grades += grades
        if echo:
            passed = sum(g.status == PASSED for g in grades)
            print(f"{passed}/{len(grades)} passed  {run.seconds:7.1f} s  {path}", flush=True)
    return report


def grade_command(args) -> int:
    """``raykit grade``: 0 when every exercise passed, 1 otherwise, 2 for a usage error."""
    import sys

    try:
        report = grade_notebooks(
            args.notebooks,
            output_dir=args.output_dir,
            smoke=args.smoke,
            timeout=args.timeout,
            kernel_name=args.kernel,
        )
    except NotebookError as exc:
        print(f"raykit grade: {exc}", file=sys.stderr)
        return 2
    save_and_print(report, args.output_dir, "grades.json")
    return 0 if report.ok else 1
