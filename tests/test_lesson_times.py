"""The reading-and-doing model of scripts/lesson_times.py counts what a learner reads, runs and
writes, and sets a lesson's stated time from it."""

from __future__ import annotations

import importlib.util
import sys

import nbformat
import pytest
from conftest import ROOT

_spec = importlib.util.spec_from_file_location("lesson_times", ROOT / "scripts" / "lesson_times.py")
lesson_times = importlib.util.module_from_spec(_spec)
sys.modules["lesson_times"] = lesson_times  # its dataclass looks its module up there
_spec.loader.exec_module(lesson_times)


def _lesson(tmp_path, run_seconds=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 99 · Demo\n\n**Time:** about 5 minutes\n\nsee (https://x.y/z)"
        ),
        nbformat.v4.new_code_cell("import ray\n\n# a comment\nray.init()\nraykit.predict('q')"),
        nbformat.v4.new_code_cell("# Your code here", metadata={"tags": ["exercise"]}),
        nbformat.v4.new_code_cell(
            "%%solution 99.x\n@ray.remote\ndef f():\n    return 1", metadata={"tags": ["solution"]}
        ),
    ]
    if run_seconds is not None:
        nb.metadata["raykit"] = {"run_seconds": run_seconds}
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_model_counts_as_a_hand_count_does(tmp_path):
    t = lesson_times.model(_lesson(tmp_path, run_seconds=90))
    # By hand: words "99 Demo Time about 5 minutes see" = 7 (the URL is not read); code lines
    # import, ray.init, predict = 3 (blank and comment lines are not); one exercise whose
    # solution has 3 lines; one prediction; 90 s of running.
    assert (t.words, t.code_lines, t.exercises, t.solution_lines, t.predictions) == (7, 3, 1, 3, 1)
    expected = 7 / 200 + 3 * 6 / 60 + (3 + 3 * 0.5) + 1 + 1.5
    assert t.modelled_min == pytest.approx(expected)
    assert t.stated_min == 5


def test_write_sets_the_stated_time_to_the_rounded_model(tmp_path):
    path = _lesson(tmp_path, run_seconds=600)
    minutes = lesson_times.write_stated(path)
    assert minutes == 5 * round(lesson_times.model(path).modelled_min / 5)
    assert f"**Time:** about {minutes} minutes" in nbformat.read(path, 4).cells[0].source


@pytest.mark.parametrize(
    "path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem
)
def test_every_lesson_states_its_modelled_time_within_20_percent(path):
    t = lesson_times.model(path)
    assert t.run_seconds is not None, (
        f"{path.name} has no recorded run time: `raykit run` it, then "
        "`python scripts/lesson_times.py --record OUT_DIR --write`"
    )
    assert t.stated_min is not None, f"{path.name}: its first cell states no time"
    assert abs(t.stated_min - t.modelled_min) <= 0.2 * t.modelled_min, (
        f"{path.name} states {t.stated_min} min, the model says {t.modelled_min:.1f}: "
        "`python scripts/lesson_times.py --write` sets it"
    )
