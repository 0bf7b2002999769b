"""``raykit.task_state``, ``raykit.task_attempts`` and lesson 01's checks, judged against what a
real two-CPU cluster did (and, first, what they say where no Ray is running)."""

from __future__ import annotations

import pathlib
import re
import time

import pytest
import ray

import raykit
from raykit import check
from raykit.check import CheckFailed

UNIT_S = 0.3


@ray.remote
def sleep_for(units):
    time.sleep(UNIT_S * units)
    return units


@ray.remote
def add_up(*values):
    return sum(values)


@ray.remote
def add_up_list(values):
    return sum(values)


@ray.remote
def add_up_fetching(values):
    return sum(ray.get(values))


@ray.remote
def fails_at_first(fail_times):
    """Fails its first ``fail_times`` attempts: each attempt marks a file named after the task
    (the same id on every retry). Returns the number of marks, Ray's records aside."""
    context = ray.get_runtime_context()
    marks = pathlib.Path(context.get_temp_dir(), f"test-attempts-{context.get_task_id()}")
    with marks.open("a") as f:
        f.write("x")
    attempt = len(marks.read_text())
    if attempt <= fail_times:
        raise ConnectionError(f"attempt {attempt}")
    return attempt


# A task id that no cluster knows: enough to reach the "is Ray running?" question.
NO_RAY_REF = ray.ObjectRef(b"\x01" * 24 + (1).to_bytes(4, "little"))


# --- before the module's cluster starts: these need no Ray ---------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: check.ran_concurrently([NO_RAY_REF, NO_RAY_REF]), id="ran_concurrently"
        ),
        pytest.param(lambda: check.finished_in_order([1, 2], [NO_RAY_REF] * 2), id="in_order"),
        pytest.param(lambda: check.chained(NO_RAY_REF, [NO_RAY_REF], 1), id="chained"),
        pytest.param(lambda: check.reserved_cpus([NO_RAY_REF] * 2, 2), id="reserved_cpus"),
        pytest.param(lambda: check.retried(NO_RAY_REF), id="retried"),
        pytest.param(lambda: raykit.task_state(NO_RAY_REF), id="task_state"),
        pytest.param(lambda: raykit.task_attempts(NO_RAY_REF), id="task_attempts"),
    ],
)
def test_without_ray_the_error_is_ray_not_running(call):
    assert not ray.is_initialized()
    with pytest.raises(raykit.RayNotRunning, match=r"raykit.init\(\) first"):
        call()


def test_bad_arguments_are_named_before_any_cluster_is_needed():
    assert not ray.is_initialized()
    with pytest.raises(raykit.ConfigError, match=r"^ref=7: raykit.task_state takes the ObjectRef"):
        raykit.task_state(7)
    with pytest.raises(raykit.ConfigError, match=r"wait_for='DONE' is not a task state"):
        raykit.task_state(NO_RAY_REF, wait_for="DONE")
    with pytest.raises(raykit.ConfigError, match=r"timeout_s=-1 "):
        raykit.task_attempts(NO_RAY_REF, timeout_s=-1)
    with pytest.raises(raykit.ConfigError, match=r"cpus=0 "):
        check.reserved_cpus([NO_RAY_REF] * 2, 0)


def test_a_list_of_values_is_not_refs_and_gets_a_hint_without_ray():
    with pytest.raises(CheckFailed, match="is a list of values, not the ObjectRefs"):
        check.reserved_cpus([1, 4, 9], 2)


# --- task_state and task_attempts ----------------------------------------------------------------


def test_task_state_follows_a_task_that_no_node_can_run_until_it_is_cancelled(cluster):
    stuck = sleep_for.options(resources={"sensor": 1}).remote(1)
    assert raykit.task_state(stuck) == ("PENDING_NODE_ASSIGNMENT", None)
    with pytest.raises(raykit.WaitTimedOut, match="last reported state is PENDING_NODE_ASSIGNMENT"):
        raykit.task_state(stuck, wait_for="FINISHED", timeout_s=1)
    ray.cancel(stuck)
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(stuck, timeout=30)
    state = raykit.task_state(stuck, wait_for="FAILED")
    assert state == raykit.TaskState("FAILED", "TASK_CANCELLED")
    assert state.state == "FAILED" and state.error_type == "TASK_CANCELLED"


def test_task_state_of_a_finished_task(cluster):
    ref = sleep_for.remote(0)
    assert ray.get(ref) == 0
    assert raykit.task_state(ref, wait_for="FINISHED") == ("FINISHED", None)


def test_a_put_ref_has_no_task(cluster):
    with pytest.raises(raykit.ConfigError, match="made with ray.put"):
        raykit.task_state(ray.put(1))


def test_task_attempts_lists_each_retry_as_the_task_itself_counted_them(cluster):
    ref = fails_at_first.options(max_retries=3, retry_exceptions=True).remote(2)
    marks = ray.get(ref)  # the task's own count of its attempts, independent of Ray's records
    attempts = raykit.task_attempts(ref)
    assert len(attempts) == marks == 3
    assert [a.attempt_number for a in attempts] == [0, 1, 2]
    assert [a.state for a in attempts] == ["FAILED", "FAILED", "FINISHED"]
    assert [a.error_type for a in attempts] == ["TASK_EXECUTION_EXCEPTION"] * 2 + [None]


def test_task_attempts_of_a_task_that_was_not_retried(cluster):
    ref = fails_at_first.options(max_retries=3).remote(2)  # no retry_exceptions
    with pytest.raises(ConnectionError):
        ray.get(ref)
    assert raykit.task_attempts(ref) == [(0, "FAILED", "TASK_EXECUTION_EXCEPTION")]


# --- check.finished_in_order ---------------------------------------------------------------------


def _in_finish_order(refs):
    done, pending = [], list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done.append(ray.get(ready[0]))
    return done


def test_finished_in_order_passes_results_collected_with_ray_wait(cluster, capsys):
    refs = [sleep_for.remote(u) for u in (4, 1, 2)]
    order = _in_finish_order(refs)
    assert order == [1, 2, 4]  # two CPUs: 1 ends first, then 2 (started when 1 ended), then 4
    check.finished_in_order(order, refs)
    assert "in the order Ray recorded the tasks finishing, [1, 2, 4]" in capsys.readouterr().out


def test_finished_in_order_fails_results_in_submission_order(cluster):
    refs = [sleep_for.remote(u) for u in (4, 1, 2)]
    with pytest.raises(CheckFailed, match=re.escape("[4, 1, 2], the order you submitted")):
        check.finished_in_order(ray.get(refs), refs)


def test_finished_in_order_cannot_judge_tasks_that_finish_as_submitted(cluster):
    refs = [sleep_for.remote(u) for u in (1, 3)]
    with pytest.raises(CheckFailed, match="finished in the order you submitted them"):
        check.finished_in_order(_in_finish_order(refs), refs)


def test_finished_in_order_wants_values_not_refs(cluster):
    refs = [sleep_for.remote(u) for u in (2, 1)]
    with pytest.raises(CheckFailed, match=r"holds ObjectRefs \(futures\), not values"):
        check.finished_in_order(list(reversed(refs)), refs)
    with pytest.raises(CheckFailed, match="not the results of the tasks"):
        check.finished_in_order([1, 3], refs)


# --- check.chained -------------------------------------------------------------------------------


def test_chained_passes_refs_handed_to_the_next_task(cluster, capsys):
    parts = [sleep_for.remote(u) for u in (1, 2)]
    check.chained(add_up.remote(*parts), parts, expected=3)
    assert "Ray held it until they had finished" in capsys.readouterr().out


def test_chained_fails_values_fetched_by_the_driver_first(cluster):
    parts = [sleep_for.remote(u) for u in (1, 2)]
    total = add_up.remote(*ray.get(parts))
    with pytest.raises(CheckFailed, match="had finished: the driver waited for them"):
        check.chained(total, parts, expected=3)


def test_chained_fails_a_list_of_refs_that_arrives_as_refs(cluster):
    parts = [sleep_for.remote(u) for u in (1, 2)]
    with pytest.raises(CheckFailed, match=r"failed: TypeError.*Hint: a list of refs reaches"):
        check.chained(add_up_list.remote(parts), parts, expected=3)


def test_chained_fails_a_task_that_fetches_its_inputs_itself(cluster):
    parts = [sleep_for.remote(u) for u in (1, 2)]
    with pytest.raises(CheckFailed, match="Ray did not hold the task"):
        check.chained(add_up_fetching.remote(parts), parts, expected=3)


def test_chained_fails_a_wrong_value(cluster):
    parts = [sleep_for.remote(u) for u in (0, 1)]
    with pytest.raises(CheckFailed, match="holds 1, not the expected 5"):
        check.chained(add_up.remote(*parts), parts, expected=5)


# --- check.reserved_cpus -------------------------------------------------------------------------


def test_reserved_cpus_passes_tasks_that_reserve_both_cpus_and_take_turns(cluster, capsys):
    refs = [sleep_for.options(num_cpus=2).remote(1) for _ in range(3)]
    check.reserved_cpus(refs, 2)
    out = capsys.readouterr().out
    assert "reserved 2 CPUs; at most 1 ran at once, and this cluster has room for 1." in out
    assert raykit.timeline(refs).max_concurrency() == 1  # the same figure, from the timeline


def test_reserved_cpus_fails_the_default_request(cluster):
    refs = [sleep_for.remote(1) for _ in range(3)]
    with pytest.raises(CheckFailed, match=r"reserved 1 CPU each .*not 2\..*num_cpus=2"):
        check.reserved_cpus(refs, 2)
    ray.get(refs)


# --- check.retried -------------------------------------------------------------------------------


def test_retried_passes_a_task_that_succeeded_after_failed_attempts(cluster, capsys):
    check.retried(fails_at_first.options(retry_exceptions=True).remote(2))
    assert "Ray made 3 attempts of the task in your answer: FAILED, FAILED, FINISHED" in (
        capsys.readouterr().out
    )


def test_retried_fails_without_retry_exceptions(cluster):
    ref = fails_at_first.options(max_retries=5).remote(2)
    with pytest.raises(CheckFailed, match="one attempt .* retry_exceptions=True"):
        check.retried(ref)


def test_retried_fails_with_too_few_retries(cluster):
    ref = fails_at_first.options(retry_exceptions=True, max_retries=1).remote(2)
    with pytest.raises(CheckFailed, match="2 attempts .* all failed: FAILED, FAILED.*max_retries"):
        check.retried(ref)


def test_retried_fails_a_task_that_never_failed(cluster):
    with pytest.raises(CheckFailed, match="succeeded at its first attempt"):
        check.retried(fails_at_first.options(retry_exceptions=True).remote(0))
