"""Checks for lesson 00 (welcome): tasks of the learner's own function, and the worker processes
that ran them, judged from Ray's task records; each with a right, a wrong and a blank answer."""

from __future__ import annotations

import os

import pytest
import ray
from conftest import nap

from raykit import ConfigError, check
from raykit.check import CheckFailed


@ray.remote
def cube(x):
    return x**3


@ray.remote
def worker_pid():
    return os.getpid()


@ray.remote
def worker_id():
    return ray.get_runtime_context().get_worker_id()


def plain_cube(x):
    return x**3


@pytest.fixture
def names():
    """Put answers in this module's namespace, where the checks look names up; removed after."""
    added = []

    def put(**values):
        globals().update(values)
        added.extend(values)

    yield put
    for name in added:
        globals().pop(name, None)


# --- ran_as_tasks -------------------------------------------------------------------------------


def test_ran_as_tasks_right_answer(cluster, names, capsys):
    refs = [cube.remote(i) for i in range(4)]
    names(cube_refs=refs, cubes=ray.get(refs))
    check.ran_as_tasks("cube_refs", "cube", values="cubes", count=4)
    out = capsys.readouterr().out
    assert "\u2713 `cube_refs` holds 4 tasks of `cube`, all finished" in out
    assert "`cubes` holds their results" in out


def test_ran_as_tasks_tasks_of_another_function_fail(cluster, names):
    names(cube_refs=[nap.remote(i) for i in range(2)])
    with pytest.raises(CheckFailed, match="ran nap, not `cube`") as info:
        check.ran_as_tasks("cube_refs", "cube")
    assert "cube.remote(x)" in info.value.hint


def test_ran_as_tasks_values_not_from_the_tasks_fail(cluster, names):
    refs = [cube.remote(i) for i in range(3)]
    names(cube_refs=refs, cubes=[1, 8, 27])  # typed in, shifted by one
    shifted = r"not the results of the tasks in `cube_refs`, \[0, 1, 8\]"
    with pytest.raises(CheckFailed, match=shifted):
        check.ran_as_tasks("cube_refs", "cube", values="cubes")
    names(cubes=refs)
    with pytest.raises(CheckFailed, match="holds ObjectRefs") as info:
        check.ran_as_tasks("cube_refs", "cube", values="cubes")
    assert "ray.get(cube_refs)" in info.value.hint


def test_ran_as_tasks_wrong_kinds_of_answer(cluster, names):
    names(cube_refs=[ray.put(i**3) for i in range(3)])
    with pytest.raises(CheckFailed, match="made with ray.put"):
        check.ran_as_tasks("cube_refs", "cube")
    names(cube_refs=[0, 1, 8])
    with pytest.raises(CheckFailed, match="not the ObjectRefs"):
        check.ran_as_tasks("cube_refs", "cube")
    names(cube_refs=[cube.remote(i) for i in range(3)])
    with pytest.raises(CheckFailed, match="holds 3 refs, not 10"):
        check.ran_as_tasks("cube_refs", "cube", count=10)
    names(cube=plain_cube)
    with pytest.raises(CheckFailed, match="`cube` is a function, not a Ray remote function"):
        check.ran_as_tasks("cube_refs", "cube")


def test_ran_as_tasks_blank_answer():
    with pytest.raises(CheckFailed, match="`never_defined` is not defined yet"):
        check.ran_as_tasks("never_defined", "cube")


def test_ran_as_tasks_bad_count_is_a_config_error():
    with pytest.raises(ConfigError, match="count"):
        check.ran_as_tasks([], "cube", count=0)


# --- returned_worker_pids -----------------------------------------------------------------------


def test_returned_worker_pids_right_answer(cluster, names, capsys):
    refs = [worker_pid.remote() for _ in range(4)]
    pids = ray.get(refs)
    names(pid_refs=refs, pids=pids)
    check.returned_worker_pids("pids", "pid_refs")
    workers = len(set(pids))
    assert os.getpid() not in pids
    assert (
        f"\u2713 `pids` holds the process ids Ray recorded for the 4 tasks in `pid_refs`: "
        f"{workers} worker process" in capsys.readouterr().out
    )


def test_returned_worker_pids_the_notebooks_own_pid_fails(cluster, names):
    refs = [worker_pid.remote() for _ in range(2)]
    ray.get(refs)
    names(pid_refs=refs, pids=[os.getpid()] * 2)
    with pytest.raises(CheckFailed, match=r"this notebook's own process id\), not the results"):
        check.returned_worker_pids("pids", "pid_refs")


def test_returned_worker_pids_something_else_than_the_pid_fails(cluster, names):
    refs = [worker_id.remote() for _ in range(2)]
    names(pid_refs=refs, pids=ray.get(refs))
    with pytest.raises(CheckFailed, match="but Ray recorded that worker processes") as info:
        check.returned_worker_pids("pids", "pid_refs")
    assert "os.getpid()" in info.value.hint


def test_returned_worker_pids_wrong_kinds_of_answer(cluster, names):
    refs = [worker_pid.remote() for _ in range(2)]
    names(pid_refs=refs, pids=refs)
    with pytest.raises(CheckFailed, match="holds ObjectRefs") as info:
        check.returned_worker_pids("pids", "pid_refs")
    assert "ray.get(pid_refs)" in info.value.hint
    names(pids=len(refs))
    with pytest.raises(CheckFailed, match="not a list of process ids"):
        check.returned_worker_pids("pids", "pid_refs")
    names(pid_refs=refs[:1], pids=ray.get(refs[:1]))
    with pytest.raises(CheckFailed, match="holds 1 refs"):
        check.returned_worker_pids("pids", "pid_refs")


def test_returned_worker_pids_blank_answer():
    with pytest.raises(CheckFailed, match="`never_defined` is not defined yet"):
        check.returned_worker_pids("never_defined", "pid_refs")
