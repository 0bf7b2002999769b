"""Every lesson in notebooks/ runs to the end in small mode, through the kit's own runner; the
text the lesson tests read from an executed lesson is what Jupyter shows."""

from __future__ import annotations

import os

import nbformat
import pytest
from _lessons import LessonPool
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


def test_outputs_text_joins_a_stream_the_kernel_cut_inside_a_line(tmp_path):
    """The kernel flushes a stream on a timer, so one print can arrive as two outputs; the
    text reads as Jupyter shows it: one line, and a newline only between different outputs."""
    new = nbformat.v4
    nb = new.new_notebook()
    nb.cells = [
        new.new_code_cell(
            outputs=[
                new.new_output("stream", name="stdout", text="routes of the api application:"),
                new.new_output("stream", name="stdout", text=" ['/predict']\n"),
                new.new_output("execute_result", data={"text/plain": "42"}, execution_count=1),
                new.new_output("stream", name="stderr", text="a warning\n"),
                new.new_output("stream", name="stdout", text="after it\n"),
            ]
        ),
        new.new_code_cell(outputs=[new.new_output("stream", name="stdout", text="cell 2")]),
        new.new_code_cell(outputs=[new.new_output("stream", name="stdout", text="cell 3\n")]),
    ]
    path = tmp_path / "cut.ipynb"
    nbformat.write(nb, path)
    assert outputs_text(path) == (
        "routes of the api application: ['/predict']\n"
        "\n42\n"
        "a warning\n"
        "\nafter it\n"
        "\ncell 2\ncell 3\n"
    )


def test_a_lesson_started_later_gets_the_environment_the_session_began_with(tmp_path, monkeypatch):
    """Tests set RAY_ADDRESS for a while (to a MiniCluster of theirs, or to a port where nothing
    listens); a lesson the pool starts meanwhile must not connect there."""
    before = os.environ.get("RAY_ADDRESS")
    pool = LessonPool(tmp_path, str(tmp_path), jobs=1)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    env = pool.lesson_env(str(tmp_path / "ray"), tmp_path / "starts.jsonl")
    assert env.get("RAY_ADDRESS") == before
    assert env["RAY_TMPDIR"] == str(tmp_path / "ray")
