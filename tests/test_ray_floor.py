"""scripts/ray_floor.py splits a lesson's seconds into Ray's fixed costs and the lesson's work."""

from __future__ import annotations

import importlib.util
import json
import sys

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("ray_floor", ROOT / "scripts" / "ray_floor.py")
ray_floor = importlib.util.module_from_spec(_spec)
sys.modules["ray_floor"] = ray_floor  # its dataclass looks its module up there
_spec.loader.exec_module(ray_floor)

FLOOR = {"Train fit": 8.0, "Serve run": 2.0, "Tune fit": 1.5}
RESULTS = [
    {  # the runner's NotebookResult as raykit run writes it
        "notebook": "notebooks/07_train.ipynb",
        "seconds": 100.0,
        "ray_start_seconds": 4.0,
        "library_calls": {"Train fit": [2, 30.0], "Serve run": [3, 4.0], "RLlib train": [5, 5.0]},
    },
    {"notebook": "notebooks/01_tasks.ipynb", "seconds": 20.0, "ray_start_seconds": 3.0},
]


def test_a_lessons_seconds_split_into_parts_counted_by_hand():
    train, tasks = ray_floor.split(RESULTS, FLOOR)
    # Train: 2 calls x 8 s = 16 s of its 30; Serve: 3 x 2 s = 6 s, more than the 4 s the calls
    # took, so 4; RLlib's train has no floor: all work.
    assert train.notebook == "07_train.ipynb"
    assert train.library_floor == 16.0 + 4.0
    assert train.library_work == (30.0 + 4.0 + 5.0) - 20.0
    assert train.rest == 100.0 - 4.0 - 20.0 - 19.0
    assert train.fixed == 4.0 + 20.0
    assert (tasks.library_floor, tasks.library_work, tasks.rest, tasks.fixed) == (0, 0, 17.0, 3.0)


def test_the_table_gives_each_lesson_and_the_total():
    text = ray_floor.table(ray_floor.split(RESULTS, FLOOR))
    lines = text.splitlines()
    assert lines[1].split() == [
        "07_train.ipynb",
        "100.0",
        "4.0",
        "20.0",
        "19.0",
        "57.0",
        "24.0",
        "24%",
    ]
    assert lines[-1].split() == ["total", "120.0", "7.0", "20.0", "19.0", "74.0", "27.0", "22%"]


def test_split_reads_the_floor_as_the_least_of_each_calls_times(tmp_path, capsys):
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"Train fit": [12.0, 8.0], "Serve run": [2.5, 2.0]}))
    report = tmp_path / "summary.json"
    report.write_text(json.dumps(RESULTS[:1]))
    assert ray_floor.main(["split", str(floor), str(report)]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:5] == ["07_train.ipynb", "100.0", "4.0", "20.0", "19.0"]
