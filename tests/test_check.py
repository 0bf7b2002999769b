"""Self-checks pass on a right answer and fail with a hint on a blank or wrong one."""

from __future__ import annotations

import pytest
import ray

from raykit import check
from raykit.check import CheckFailed


@ray.remote
def cube(x):
    return x**3


def plain_cube(x):
    return x**3


def test_is_remote_function_right_answer(capsys):
    check.is_remote_function(cube)
    assert "\u2713" in capsys.readouterr().out


def test_is_remote_function_wrong_answer_hints_at_the_decorator():
    with pytest.raises(CheckFailed, match="not a Ray remote function") as info:
        check.is_remote_function(plain_cube)
    assert "@ray.remote" in info.value.hint


def test_a_blank_exercise_gets_a_hint_not_a_name_error():
    with pytest.raises(CheckFailed, match="`answer_never_defined` is not defined yet"):
        check.is_remote_function("answer_never_defined")


def test_names_are_looked_up_in_the_callers_namespace(capsys):
    globals()["cubes"] = [i**3 for i in range(4)]
    try:
        check.equal("cubes", [0, 1, 8, 27])
    finally:
        del globals()["cubes"]
    assert "`cubes` is right" in capsys.readouterr().out


def test_equal_wrong_value_fails():
    with pytest.raises(CheckFailed, match="not the expected value"):
        check.equal([0, 1, 4], [0, 1, 8])


def test_failure_renders_as_the_hint_alone_in_ipython():
    err = CheckFailed("`x` is 3.", "try 4.")
    assert err._render_traceback_() == ["\u2717 Not yet: `x` is 3.", "  Hint: try 4."]
    assert isinstance(err, AssertionError)  # so papermill and pytest count it as a failure


def test_a_failed_train_run_is_told_by_its_workers_errors_not_its_announcement():
    # Ray Train's WorkerGroupError opens "Training failed due to worker errors:", the errors
    # on the lines after; the line a check shows must carry them.
    from ray.train.v2.api.exceptions import WorkerGroupError

    from raykit.check import _first_line

    error = WorkerGroupError("[Rank 0 Error Snippet]:\nValueError: lr must be > 0", {})
    assert _first_line(error) == "ValueError: lr must be > 0"  # the worker's own error
    # As a Tune trial carries it: the traceback's text, its last own error line announcing.
    trial = RuntimeError(
        "Traceback (most recent call last):\n  File 'driver.py'\n"
        "ray.train.v2.api.exceptions.WorkerGroupError: Training failed due to worker errors:\n"
        "[Rank 0 Error Snippet]:\nThe actor died unexpectedly before finishing this task."
    )
    assert _first_line(trial) == (
        "WorkerGroupError: Training failed due to worker errors: "
        "The actor died unexpectedly before finishing this task."
    )
    assert _first_line(ValueError("bad lr\nmore")) == "ValueError: bad lr"
