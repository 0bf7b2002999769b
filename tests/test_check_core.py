"""Checks for lessons 01-04: concurrency, actors, references; each with a right, a wrong and a
blank answer."""

from __future__ import annotations

import numpy as np
import pytest
import ray
from conftest import nap

from raykit import check
from raykit.check import CheckFailed


@ray.remote
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.count


@ray.remote
class Forgetful:
    def increment(self):
        count = 0  # a local: gone when the call returns
        count += 1
        return count


# --- same_items -------------------------------------------------------------------------------


def test_same_items_right_answer_in_any_order(capsys):
    check.same_items([4, 1, 9], [1, 4, 9])
    check.same_items([{"a": 1}, {"b": 2}], [{"b": 2}, {"a": 1}])  # items that do not sort
    assert "holds the right 3 items" in capsys.readouterr().out


def test_same_items_wrong_answers(cluster):
    with pytest.raises(CheckFailed, match="not the expected 3"):
        check.same_items([1, 4], [1, 4, 9])
    with pytest.raises(CheckFailed, match="not the expected 2"):
        check.same_items([{"a": 1}, {"a": 1}], [{"a": 1}, {"b": 2}])
    with pytest.raises(CheckFailed, match="ObjectRefs"):
        check.same_items([nap.remote(1)], [1])
    with pytest.raises(CheckFailed, match="not a list"):
        check.same_items(3, [3])


def test_same_items_blank_answer():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.same_items("never_defined", [1])


# --- ran_concurrently -------------------------------------------------------------------------


def test_ran_concurrently_right_answer(cluster, capsys):
    refs = [nap.remote(i) for i in range(4)]
    ray.get(refs)
    check.ran_concurrently(refs, at_least=2)
    assert "\u2713 2 of the tasks in your answer ran at the same time" in capsys.readouterr().out


def test_ran_concurrently_get_in_the_loop_fails_with_a_hint(cluster):
    serial_refs = []
    for i in range(3):
        serial_refs.append(nap.remote(i))
        ray.get(serial_refs[-1])
    globals()["serial_refs"] = serial_refs
    try:
        with pytest.raises(CheckFailed, match="at most 1 of the tasks in `serial_refs`") as info:
            check.ran_concurrently("serial_refs")
    finally:
        del globals()["serial_refs"]
    assert "ray.get" in info.value.hint


def test_ran_concurrently_wants_refs_not_values(cluster):
    with pytest.raises(CheckFailed, match="the list of ObjectRefs"):
        check.ran_concurrently([0, 1, 2])
    with pytest.raises(CheckFailed, match="holds 1 refs"):
        check.ran_concurrently([nap.remote(0)], at_least=2)


def test_ran_concurrently_blank_answer():
    with pytest.raises(CheckFailed, match="`never_defined` is not defined yet"):
        check.ran_concurrently("never_defined")


# --- is_actor_handle ----------------------------------------------------------------------------


def test_is_actor_handle_right_answer(cluster, capsys):
    check.is_actor_handle(Counter.remote(), of_class="Counter")
    assert "\u2713 your answer is a handle to a Counter actor" in capsys.readouterr().out


def test_is_actor_handle_wrong_answers(cluster):
    with pytest.raises(CheckFailed, match="the actor class itself") as info:
        check.is_actor_handle(Counter)
    assert ".remote()" in info.value.hint
    with pytest.raises(CheckFailed, match="is a int, not an actor handle"):
        check.is_actor_handle(3)
    with pytest.raises(CheckFailed, match="is a Forgetful actor, not a Counter"):
        check.is_actor_handle(Forgetful.remote(), of_class="Counter")


def test_is_actor_handle_blank_answer():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.is_actor_handle("never_defined")


# --- actor_keeps_state ------------------------------------------------------------------------


def test_actor_keeps_state_right_answer(cluster, capsys):
    globals()["counter"] = Counter.remote()
    try:
        check.actor_keeps_state("counter", "increment", step=1)
    finally:
        del globals()["counter"]
    assert "`counter` keeps its state: two calls of increment returned 1 then 2" in (
        capsys.readouterr().out
    )


def test_actor_keeps_state_forgetful_actor_fails(cluster):
    with pytest.raises(CheckFailed, match="returned 1 then 1: nothing was kept") as info:
        check.actor_keeps_state(Forgetful.remote(), "increment")
    assert "self" in info.value.hint


def test_actor_keeps_state_wrong_step_or_method(cluster):
    with pytest.raises(CheckFailed, match="not 2 apart"):
        check.actor_keeps_state(Counter.remote(), "increment", step=2)
    with pytest.raises(CheckFailed, match="has no method 'decrement'"):
        check.actor_keeps_state(Counter.remote(), "decrement")
    with pytest.raises(CheckFailed, match="raised"):
        check.actor_keeps_state(Counter.remote(), "increment", "unexpected argument")
    with pytest.raises(CheckFailed, match="not an actor handle"):
        check.actor_keeps_state(Counter, "increment")


def test_actor_keeps_state_blank_answer():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.actor_keeps_state("never_defined", "increment")


# --- passed_by_reference ------------------------------------------------------------------------


def test_passed_by_reference_right_answer(cluster, capsys):
    data_ref = ray.put(np.arange(1000))
    check.passed_by_reference(data_ref)
    assert "put once and shared by reference" in capsys.readouterr().out


def test_passed_by_reference_wrong_answers(cluster):
    with pytest.raises(CheckFailed, match="a value") as info:
        check.passed_by_reference(np.arange(1000))
    assert "ray.put" in info.value.hint
    with pytest.raises(CheckFailed, match="the result of a task"):
        check.passed_by_reference(nap.remote(0))
    with pytest.raises(CheckFailed, match="a list of 2 refs"):
        check.passed_by_reference([ray.put(1), ray.put(2)])
    with pytest.raises(CheckFailed, match="raised TypeError"):
        check.actor_keeps_state(Counter.remote(), "increment", 1, 2)


def test_passed_by_reference_blank_answer():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.passed_by_reference("never_defined")
