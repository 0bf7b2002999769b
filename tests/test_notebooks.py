"""Every lesson in notebooks/ runs to the end in small mode, through the kit's own runner."""

from __future__ import annotations

import re

import pytest
from conftest import NOTEBOOKS, outputs_text

from raykit._runner import discover_notebooks

LESSONS = [p.name for p in discover_notebooks(NOTEBOOKS)]


def test_lessons_are_discovered():
    assert "00_welcome.ipynb" in LESSONS


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_in_small_mode(executed, name):
    result = executed(name)
    print(f"{name}: {result.status} in {result.seconds:.1f} s")  # recorded duration
    assert result.passed, f"{name} failed in cell {result.cell_index}: {result.error}"


def test_welcome_prints_measured_speedup_and_passes_its_check(executed):
    text = outputs_text(executed("00_welcome.ipynb").output)
    speedup = re.search(r"([\d.]+)x faster \(at most (\d+)x\)", text)
    assert speedup, "the fan-out cell must print its measured speed-up"
    assert "\u2713 `cubes` is right." in text
    assert "same cluster as before: True" in text
