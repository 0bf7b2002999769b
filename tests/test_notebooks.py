"""Every lesson in notebooks/ runs to the end in small mode, through the kit's own runner; the
text the lesson tests read from an executed lesson is what Jupyter shows."""

from __future__ import annotations

import dataclasses
import json
import os
import signal

import conftest
import nbformat
import pytest
from _lessons import LessonPool, series_parts
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


def _left_by_ray_train(signum, frame):
    """Stands for the SIGINT handler Ray Train V2's fit() installs and leaves behind."""


_left_by_ray_train.__module__ = "ray.train.v2.api.data_parallel_trainer"


def test_a_sigint_handler_that_ray_leaves_behind_lasts_one_test_only():
    signal.signal(signal.SIGINT, _left_by_ray_train)  # as trainer.fit() does


def test_after_it_ctrl_c_stops_the_suite_again():
    # Runs after the test above (module order): the autouse fixture put the handler back.
    assert signal.getsignal(signal.SIGINT) is conftest._SIGINT_AT_START


def _failed_run(out, name, why):
    from _lessons import LessonRun

    stem = name.removesuffix(".ipynb")
    summary = {"lesson": name, "failed": [8, "CellExecutionError", why], "last_cell": 7}
    (out / f"{stem}.json").write_text(json.dumps(summary))
    (out / f"{stem}.log").write_text("the first try's log\n")
    return LessonRun.load(out, name)


def test_a_lesson_whose_ray_start_timed_out_runs_once_more_and_only_once(tmp_path):
    pool = LessonPool(tmp_path, str(tmp_path), jobs=1)
    timed_out = "Exception: The current node timed out during startup. This could happen ..."
    assert pool._start_timed_out_first_time(_failed_run(tmp_path, "00_welcome.ipynb", timed_out))
    assert (tmp_path / "00_welcome.first-try.json").is_file(), "the first try is kept"
    assert (tmp_path / "00_welcome.first-try.log").read_text() == "the first try's log\n"
    assert "00_welcome.ipynb" in pool.retried
    # The second time in a session, the lesson fails.
    again = _failed_run(tmp_path, "00_welcome.ipynb", timed_out)
    assert not pool._start_timed_out_first_time(again)
    # Any other failure is the lesson's: no second run.
    other = _failed_run(tmp_path, "01_tasks.ipynb", "AssertionError: the check failed")
    assert not pool._start_timed_out_first_time(other)


def test_a_series_parts_ray_figures_add_its_lessons_to_its_own_cluster(tmp_path):
    """A part's log holds its user's cluster alone; the runner logged each lesson on its own."""
    from raykit._runner import NotebookResult

    pool = LessonPool(tmp_path, str(tmp_path), jobs=1)
    part = "ray-address-series-1"
    (tmp_path / f"{part}.ray-start.jsonl").write_text(
        json.dumps({"what": "MiniCluster node head", "seconds": 7.0}) + "\n"
    )
    results = [
        NotebookResult("00.ipynb", "o", "passed", 20.0, ray_start_seconds=0.5),
        NotebookResult(
            "07.ipynb",
            "o",
            "passed",
            90.0,
            ray_start_seconds=4.0,
            library_calls={"Train fit": [3, 60.0], "Serve run": [1, 2.5]},
        ),
        NotebookResult("08.ipynb", "o", "passed", 50.0, library_calls={"Train fit": [1, 9.5]}),
    ]
    summary = {"results": [dataclasses.asdict(r) for r in results]}
    (tmp_path / f"{part}.json").write_text(json.dumps(summary))
    pool._record_ray_figures(part)
    assert pool.ray_start[part] == 7.0 + 0.5 + 4.0
    assert pool.library_calls[part] == {"Train fit": [4, 69.5], "Serve run": [1, 2.5]}
    # A lesson's job is its log alone (its summary is the lesson's, not a runner's).
    (tmp_path / "01_tasks.ray-start.jsonl").write_text(
        json.dumps({"what": "raykit.init", "seconds": 3.0})
        + "\n"
        + json.dumps({"what": "Tune fit", "seconds": 2.0, "part": "library"})
        + "\n"
    )
    pool._record_ray_figures("01_tasks.ipynb")
    assert (pool.ray_start["01_tasks.ipynb"], pool.library_calls["01_tasks.ipynb"]) == (
        3.0,
        {"Tune fit": [1, 2.0]},
    )


class _Item:
    """What ``lessons_wait_for`` reads of a pytest item: its id and markers."""

    def __init__(self, nodeid: str, *markers: str):
        self.nodeid, self.markers = nodeid, set(markers)

    def get_closest_marker(self, name: str):
        return name if name in self.markers else None


def test_the_lessons_wait_for_the_browser_tests_before_the_first_that_reads_a_lesson():
    """The course site's browser test reads the lessons: waiting for it, which comes last, left
    the pool idle through the unit tests (CI, 2026-12-07)."""
    items = [
        _Item("binder", "browser"),
        _Item("lesson00", "browser"),
        _Item("unit"),
        _Item("reads 01", "lesson"),
        _Item("site", "browser", "lesson", "after_lessons"),
    ]
    assert conftest.lessons_wait_for(items) == "lesson00"
    assert conftest.lessons_wait_for(items[2:]) is None, "no browser test first: start at once"
    assert conftest.lessons_wait_for([items[2], items[0]]) == "binder"


def _lesson_taking(folder, name: str, seconds: float):
    nb = nbformat.v4.new_notebook(metadata={"raykit": {"run_seconds": seconds}})
    nbformat.write(nb, folder / name)
    return folder / name


def test_the_series_splits_into_parts_of_equal_time_keeping_a_lesson_with_what_it_needs(
    tmp_path,
):
    lessons = [
        _lesson_taking(tmp_path, "01_tasks.ipynb", 40),
        _lesson_taking(tmp_path, "07_train.ipynb", 100),
        _lesson_taking(tmp_path, "08_tune.ipynb", 30),
        _lesson_taking(tmp_path, "09_serve.ipynb", 30),  # needs 08's model (NEEDS)
    ]
    parts = series_parts(lessons, parts=2)
    # 07 alone (100 s) against 08+09 (60 s) and 01 (40 s), each part in the lessons' order.
    assert {name: [p.name[:2] for p in ps] for name, ps in parts.items()} == {
        "ray-address-series-1": ["07"],
        "ray-address-series-2": ["01", "08", "09"],
    }
    assert list(series_parts(lessons, parts=1).values()) == [lessons]
    assert len(series_parts(lessons[:2], parts=5)) == 2, "no part without lessons"


def test_a_runs_processes_are_its_tree_and_the_daemons_naming_its_temp_dir(tmp_path):
    """What the loopback test leaves out: a lesson run beside it is not the cluster under test."""
    import subprocess
    import sys

    import psutil

    from raykit import wait_until

    sleeper = "import time; time.sleep(120)"
    pool = LessonPool(tmp_path, str(tmp_path), jobs=1)
    procs = []
    try:
        spawn = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleeper!r}])"
        run = subprocess.Popen([sys.executable, "-c", f"{spawn}; {sleeper}"])
        # A daemon of the run's cluster, out of its tree, that names the run's Ray temp dir.
        daemon = subprocess.Popen([sys.executable, "-c", sleeper, str(tmp_path / "01" / "gcs")])
        other = subprocess.Popen([sys.executable, "-c", sleeper, str(tmp_path / "rk0")])
        procs = [run, daemon, other]
        pool.running["01_tasks.ipynb"] = run
        (child,) = wait_until(lambda: psutil.Process(run.pid).children(), timeout_s=60)
        procs.append(child)
        assert pool.run_processes() == {run.pid, child.pid, daemon.pid}
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
