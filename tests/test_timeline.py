"""``raykit.timeline``: built from a real small run's task events, and drawn to a file."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
import ray
from conftest import nap

import raykit
from raykit._timeline import _draw, _max_overlap


@ray.remote(max_retries=0)
def explode():
    raise ValueError("deliberate")


@ray.remote(max_retries=2, retry_exceptions=True)
def fails_twice(path):
    with open(path, "a") as f:
        f.write("attempt\n")
    if len(open(path).read().splitlines()) <= 2:
        raise RuntimeError("not yet")
    return "ok"


# Before the first test that starts the module's cluster: these need no Ray.
@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"refs": [1, 2]}, "refs: raykit.timeline takes the ObjectRefs that task calls returned"),
        ({"refs": 7}, "refs: "),
        ({"refs": "abc"}, "refs: "),
        ({"since": "yesterday"}, "since='yesterday'"),
        ({"wait_s": -1}, "wait_s=-1"),
        ({"title": 3}, "title=3"),
        ({"path": "chart.txt"}, "path='chart.txt'"),
        ({"path": 5}, "path=5"),
    ],
)
def test_bad_arguments_are_named_before_any_cluster_is_needed(kwargs, named):
    assert not ray.is_initialized()
    with pytest.raises(raykit.ConfigError, match=re.escape(named)):
        raykit.timeline(**kwargs)


def test_timeline_without_ray_asks_for_raykit_init():
    assert not ray.is_initialized()
    with pytest.raises(raykit.RayNotRunning, match=r"raykit.timeline .*raykit.init\(\) first"):
        raykit.timeline()


@pytest.fixture(scope="module")
def parallel_run(cluster):
    refs = [nap.remote(i) for i in range(4)]
    ray.get(refs)
    return refs


def test_parallel_tasks_show_up_on_several_workers(parallel_run):
    tl = raykit.timeline(parallel_run)
    tasks = tl.tasks
    assert list(tasks.columns) == [
        "task_id",
        "name",
        "attempt",
        "worker",
        "node",
        "start_s",
        "end_s",
        "state",
    ]
    assert sorted(tasks["task_id"]) == sorted(r.task_id().hex() for r in parallel_run)
    assert set(tasks["name"]) == {"nap"} and set(tasks["state"]) == {"FINISHED"}
    assert tasks["worker"].nunique() >= 2
    assert tasks["start_s"].min() == 0.0
    assert (tasks["end_s"] > tasks["start_s"]).all()
    assert tl.max_concurrency() >= 2
    assert repr(tl).startswith("Timeline: 4 tasks on")


def test_get_in_a_loop_runs_one_task_at_a_time(cluster):
    refs = []
    for i in range(3):
        ref = nap.remote(i)
        ray.get(ref)
        refs.append(ref)
    tl = raykit.timeline(refs)
    assert len(tl.tasks) == 3
    assert tl.max_concurrency() == 1


def test_since_selects_the_tasks_started_after_it(parallel_run):
    since = time.time()
    ray.get([nap.remote(i) for i in range(3)])
    tl = raykit.timeline(since=since)
    assert len(tl.tasks) == 3
    assert not set(tl.tasks["task_id"]) & {r.task_id().hex() for r in parallel_run}


def test_failed_tasks_are_kept_and_marked(cluster):
    refs = [nap.remote(0), explode.remote()]
    ray.wait(refs, num_returns=2)
    tl = raykit.timeline(refs)
    states = dict(zip(tl.tasks["name"], tl.tasks["state"], strict=True))
    assert states == {"nap": "FINISHED", "explode": "FAILED"}
    legend = [t.get_text() for t in tl.figure.axes[0].get_legend().get_texts()]
    assert legend == ["nap", "failed"]


def test_every_attempt_of_a_retried_task_is_drawn(cluster, tmp_path):
    ref = fails_twice.remote(str(tmp_path / "attempts"))
    assert ray.get(ref) == "ok"
    tl = raykit.timeline(ref)
    assert tl.tasks["attempt"].tolist() == [0, 1, 2]
    assert tl.tasks["state"].tolist() == ["FAILED", "FAILED", "FINISHED"]
    assert tl.max_concurrency() == 1


def test_saves_png_and_svg_and_displays_as_png(parallel_run, tmp_path):
    tl = raykit.timeline(parallel_run, path=tmp_path / "run.png", title="four naps")
    png = tmp_path / "run.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    svg = tl.save(tmp_path / "sub" / "run.svg")
    assert "<svg" in open(svg).read()
    assert tl._repr_png_()[:4] == b"\x89PNG"
    ax = tl.figure.axes[0]
    assert ax.get_xlabel() == "seconds" and ax.get_ylabel() == "worker"
    assert ax.get_title() == "four naps"
    assert len(ax.get_yticklabels()) == tl.tasks["worker"].nunique()


@pytest.mark.parametrize(
    "intervals, expected",
    [
        ([], 0),
        ([(0, 1)], 1),
        ([(0, 1), (1, 2), (2, 3)], 1),  # back to back: never two at once
        ([(0, 2), (1, 3), (1.5, 1.8)], 3),
        ([(0, 1), (0.5, 2), (1.5, 3)], 2),
    ],
)
def test_max_overlap_from_intervals(intervals, expected):
    assert _max_overlap(intervals) == expected


def test_draw_without_ray_one_row_per_worker():
    tasks = pd.DataFrame(
        {
            "name": ["a", "a", "b"],
            "worker": ["w1", "w2", "w1"],
            "start_s": [0.0, 0.0, 1.0],
            "end_s": [1.0, 0.5, 2.0],
            "state": ["FINISHED", "FINISHED", "FAILED"],
        }
    )
    fig = _draw(tasks, None)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w1", "w2"]
    assert ax.get_title() == "3 tasks on 2 workers"
    assert len(ax.patches) == 3


def test_tasks_side_by_side_on_one_worker_get_rows_of_their_own():
    tasks = pd.DataFrame(
        {
            "name": ["f"] * 3,
            "worker": ["w1"] * 3,
            "start_s": [0.0, 0.1, 0.6],
            "end_s": [0.5, 0.5, 0.9],
            "state": ["FINISHED"] * 3,
        }
    )
    ax = _draw(tasks, "async").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w1", "same worker, #2"]
    rows = sorted(round(p.get_y() + p.get_height() / 2) for p in ax.patches)
    assert rows == [0, 0, 1], "the third call reuses the first row once it is free"
