"""Every lesson in notebooks/ runs to the end in small mode, through the kit's own runner."""

from __future__ import annotations

import pytest
from conftest import NOTEBOOKS

from raykit._runner import discover_notebooks

LESSONS = [p.name for p in discover_notebooks(NOTEBOOKS)]


def test_lessons_are_discovered():
    assert "00_welcome.ipynb" in LESSONS


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_in_small_mode(executed, name):
    result = executed(name)
    print(f"{name}: {result.status} in {result.seconds:.1f} s")  # recorded duration
    assert result.passed, f"{name} failed in cell {result.cell_index}: {result.error}"
