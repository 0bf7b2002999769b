"""Every exercise in notebooks/, three ways: left blank (the solution fills in and the check says
so), the solution's code typed in (passes as the learner's), and each wrong answer in
tests/exercise_wrong_answers.py (fails with a hint, not a traceback).

Exercises are discovered from the notebooks: a cell tagged ``exercise``, the hidden ``solution``
cell opening with ``%%solution <id>``, and the ``self-check`` cell's ``raykit.exercise(<id>, ...)``.
Each lesson runs once per session, in small mode, in one kernel (tests/_lessons.py): its cells in
order, and at each exercise every variant (the exercise's names deleted in between), then on to
the end, cleanup included. The lesson tests read the same run. The blank variant is a learner's
plain Run All: read from the RAY_ADDRESS series, which runs the lessons exactly so (the
``series_run`` fixture), and run in the lesson's kernel only for the lessons the series leaves out.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from _kernel import CellRun
from _lessons import in_series
from conftest import NOTEBOOKS
from exercise_wrong_answers import WRONG_ANSWERS

from raykit._exercise import ExerciseCells, find_exercises
from raykit._runner import discover_notebooks

LESSONS = discover_notebooks(NOTEBOOKS)
FOUND = [(path, ex) for path in LESSONS for ex in find_exercises(path)]
GOOD = [(path, ex) for path, ex in FOUND if not ex.problems and ex.check_index is not None]
KIT_SAID = "passed with the kit's solution, not your code"


def _ids(pairs):
    return [ex.id for _, ex in pairs]


# --- the layout, read from the notebooks (no kernel) -----------------------------------------


def test_every_lesson_has_an_exercise():
    assert {p.name for p, _ in FOUND} == {p.name for p in LESSONS}


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_self_check_opens_raykit_exercise(path):
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if "self-check" in c.metadata.get("tags", [])]
    assert checks
    for cell in checks:
        assert re.match(r'with raykit\.exercise\("[^"]+", names=\[', cell.source), (
            f"the self-check must open `with raykit.exercise(...)`:\n{cell.source}"
        )


@pytest.mark.parametrize("path, ex", FOUND, ids=_ids(FOUND))
def test_exercise_cells_follow_the_layout(path, ex: ExerciseCells):
    assert not ex.problems, ex.problems
    assert ex.id.split(".")[0] == path.name[:2], "the id starts with the lesson's number"
    nb = nbformat.read(path, as_version=4)
    learner = nb.cells[ex.exercise_index].source
    assert "# Your code here" in learner
    assert all(not line.strip() or line.lstrip().startswith("#") for line in learner.splitlines())
    solution = nb.cells[ex.solution_index]
    assert solution.source.startswith(f"%%solution {ex.id}\n")
    assert solution.metadata["jupyter"]["source_hidden"] is True
    assert all(re.search(rf"\b{name}\b", ex.solution_code) for name in ex.names)


def test_exercise_ids_are_unique():
    ids = [ex.id for _, ex in FOUND]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("path, ex", FOUND, ids=_ids(FOUND))
def test_every_exercise_has_a_wrong_answer_in_the_test_data(path, ex):
    assert WRONG_ANSWERS.get(ex.id), f"add a plausible wrong answer for {ex.id} to WRONG_ANSWERS"


def test_the_test_data_names_only_existing_exercises():
    assert set(WRONG_ANSWERS) <= {ex.id for _, ex in FOUND}


# --- three ways, in the lesson's kernel --------------------------------------------------------


def _outcome(lesson_runs, path, ex, variant) -> tuple[CellRun, CellRun]:
    run = lesson_runs.get(path)
    if ex.id not in run.variants or variant not in run.variants[ex.id]:
        pytest.fail(f"{path.name} stopped before {ex.id} ({variant}): {run.summary['failed']}")
    roles = run.variants[ex.id][variant]
    return roles["learner"], roles["check"]


def _show(run: CellRun) -> str:
    return run.text + (json.dumps(run.error["traceback"]) if run.error else "")


WRONG = [
    pytest.param(path, ex, n, id=f"{ex.id}-{n}")
    for path, ex in GOOD
    for n in range(len(WRONG_ANSWERS.get(ex.id, [])))
]


BLANK_HERE = [(path, ex) for path, ex in GOOD if not in_series(path)]
BLANK_IN_SERIES = [(path, ex) for path, ex in GOOD if in_series(path)]


@pytest.mark.ray_cluster
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("path, ex", BLANK_HERE, ids=_ids(BLANK_HERE))
def test_blank_answer_the_solution_fills_in_and_says_so(lesson_runs, path, ex):
    learner, check = _outcome(lesson_runs, path, ex, "blank")
    assert learner.ok and check.ok, _show(check)
    assert f"\u2713 {ex.id}: {KIT_SAID}" in check.text


def _cell_of(notebook_path, opening: str):
    """The one code cell of an executed notebook whose source opens with ``opening``."""
    cells = nbformat.read(notebook_path, as_version=4).cells
    found = [c for c in cells if c.cell_type == "code" and c.source.startswith(opening)]
    assert len(found) == 1, f"{len(found)} cells open with {opening!r}"
    return CellRun.of(found[0])


@pytest.mark.ray_cluster
@pytest.mark.after_lessons
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("path, ex", BLANK_IN_SERIES, ids=_ids(BLANK_IN_SERIES))
def test_blank_answer_in_a_plain_run_the_solution_fills_in_and_says_so(series_run, path, ex):
    result = series_run.result(path)
    solution = _cell_of(result.output, f"%%solution {ex.id}\n")
    check = _cell_of(result.output, f'with raykit.exercise("{ex.id}"')
    assert solution.ok, _show(solution)
    assert check.ok, _show(check)
    # Not also "running the kit's solution of ...": Tune clears the cell's output as it reports.
    assert f"\u2713 {ex.id}: {KIT_SAID}" in check.text


@pytest.mark.ray_cluster
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("path, ex", GOOD, ids=_ids(GOOD))
def test_the_solution_typed_in_passes_as_the_learners(lesson_runs, path, ex):
    learner, check = _outcome(lesson_runs, path, ex, "typed")
    assert learner.ok, _show(learner)
    assert check.ok, _show(check)
    assert f"\u2713 {ex.id}: solved by you." in check.text
    assert "Nothing of yours" not in check.text, "the solution did not run"


@pytest.mark.ray_cluster
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("path, ex, n", WRONG)
def test_a_wrong_answer_fails_with_a_hint_not_a_traceback(lesson_runs, path, ex, n):
    learner, check = _outcome(lesson_runs, path, ex, f"wrong-{n}")
    assert learner.ok, f"the wrong answer itself must run:\n{_show(learner)}"
    assert check.error is not None, f"the check passed a wrong answer:\n{check.text}"
    assert check.error["ename"] == "CheckFailed", _show(check)
    lines = check.error["traceback"]
    assert lines[0].startswith("\u2717 Not yet: ") and len(lines) <= 2, lines
    assert "Traceback" not in "".join(lines)


@pytest.mark.ray_cluster
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("path", sorted({p for p, _ in GOOD}), ids=lambda p: p.stem)
def test_the_lesson_runs_to_its_end_around_the_variants(lesson_runs, path):
    run = lesson_runs.get(path)
    assert run.passed, run.summary["failed"]
    cells = nbformat.read(path, as_version=4).cells
    last = max(i for i, c in enumerate(cells) if c.cell_type == "code")
    assert run.summary["last_cell"] == last, "the cleanup cell ran"
