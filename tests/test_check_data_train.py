"""The self-checks of lessons 06 and 07: a right, a wrong and a blank answer for each."""

from __future__ import annotations

import pytest

from raykit import check
from raykit.check import CheckFailed

# Module-level answers: the checks look names up in the caller's globals, like a notebook's.
mean_alcohol_right = {"class_0": 13.744745762711865, "class_1": 12.278732394366198}
mean_alcohol_rounded = {"class_0": 13.7, "class_1": 12.3}
mean_alcohol_missing_key = {"class_0": 13.744745762711865}
EXPECTED_MEANS = {"class_0": 13.744745762711865, "class_1": 12.278732394366198 * (1 + 1e-9)}


def test_close_passes_a_right_answer_within_tolerance(capsys):
    check.close("mean_alcohol_right", EXPECTED_MEANS)
    assert "\u2713 `mean_alcohol_right` is right." in capsys.readouterr().out


def test_close_accepts_numbers_and_sequences_given_as_values():
    check.close(0.1 + 0.2, 0.3)
    check.close([1.0, 2.0], (1.0, 2.0 + 1e-12))


@pytest.mark.parametrize("name", ["mean_alcohol_rounded", "mean_alcohol_missing_key"])
def test_close_fails_a_wrong_answer(name):
    with pytest.raises(CheckFailed, match="does not match the expected values"):
        check.close(name, EXPECTED_MEANS)


def test_close_fails_a_non_number():
    with pytest.raises(CheckFailed):
        check.close("not a number", 1.0)
    with pytest.raises(CheckFailed):
        check.close(True, 1.0)


def test_close_fails_a_blank_answer_with_a_hint():
    with pytest.raises(CheckFailed) as info:
        check.close("mean_alcohol_never_defined", EXPECTED_MEANS)
    assert "is not defined yet" in info.value.problem
    assert info.value.hint


def _gpu_scaling(**kwargs):
    from ray.train import ScalingConfig

    return ScalingConfig(**kwargs)


def test_scaling_config_passes_a_right_answer(capsys):
    answer = _gpu_scaling(num_workers=4, use_gpu=True, resources_per_worker={"CPU": 2})
    check.scaling_config(answer, num_workers=4, use_gpu=True, cpus_per_worker=2)
    out = capsys.readouterr().out
    assert "runs 4 workers" in out and "'GPU': 1" in out


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"num_workers": 2, "use_gpu": True, "resources_per_worker": {"CPU": 2}}, "2 workers"),
        ({"num_workers": 4, "use_gpu": False, "resources_per_worker": {"CPU": 2}}, "use_gpu"),
        ({"num_workers": 4, "use_gpu": True}, "reserves 0 CPUs"),
    ],
)
def test_scaling_config_fails_a_wrong_answer(kwargs, problem):
    with pytest.raises(CheckFailed, match=problem):
        check.scaling_config(_gpu_scaling(**kwargs), num_workers=4, use_gpu=True, cpus_per_worker=2)


def test_scaling_config_fails_something_else_and_a_blank_answer():
    with pytest.raises(CheckFailed, match="not a ScalingConfig"):
        check.scaling_config({"num_workers": 4}, num_workers=4, use_gpu=True)
    with pytest.raises(CheckFailed, match="is not defined yet"):
        check.scaling_config("gpu_scaling_never_defined", num_workers=4, use_gpu=True)
