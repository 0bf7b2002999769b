"""Every exercise has a hidden solution and a self-check that fails, with a hint, on a blank answer.

The self-checks pass in the papermill runs (tests/test_notebooks.py) because the solutions ran;
here each self-check cell runs in a namespace where the learner wrote nothing, and must raise
``CheckFailed`` (a hint), not a ``NameError`` or any other traceback.
"""

from __future__ import annotations

import nbformat
import pytest
from conftest import NOTEBOOKS

from raykit._runner import discover_notebooks
from raykit.check import CheckFailed


def _exercises():
    for path in discover_notebooks(NOTEBOOKS):
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            if "self-check" in cell.metadata.get("tags", []):
                yield pytest.param(path, index, cell.source, id=f"{path.stem}-cell{index}")


EXERCISES = list(_exercises())


def test_every_lesson_after_the_map_has_an_exercise():
    with_checks = {p.values[0].name for p in EXERCISES}
    assert with_checks == {p.name for p in discover_notebooks(NOTEBOOKS)}


@pytest.mark.parametrize("path, index, source", EXERCISES)
def test_self_check_is_preceded_by_a_hidden_solution(path, index, source):
    cells = nbformat.read(path, as_version=4).cells
    before = [c for c in cells[:index] if c.cell_type == "code"]
    solution = before[-1]
    assert "solution" in solution.metadata.get("tags", []), "a solution cell comes before the check"
    assert solution.metadata.get("jupyter", {}).get("source_hidden") is True
    blank = before[-2]
    assert blank.source.strip() == "# Your code here", "the learner's cell comes before it"


@pytest.mark.parametrize("path, index, source", EXERCISES)
def test_self_check_fails_with_a_hint_on_a_blank_answer(path, index, source):
    namespace = {"__name__": "__main__"}
    exec("import raykit, ray", namespace)
    with pytest.raises(CheckFailed) as info:
        exec(source, namespace)
    assert "Not yet" in info.value._render_traceback_()[0]
