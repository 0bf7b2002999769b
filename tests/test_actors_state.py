"""Actors as Ray records them (raykit._actors) and the actor checks of lesson 02 (raykit.check)."""

from __future__ import annotations

import os

import pytest
import ray
from ray.util import ActorPool

import raykit
from raykit import check
from raykit._actors import actor_class, actor_id
from raykit.check import CheckFailed


@ray.remote
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self, by=1):
        self.count += by
        return self.count

    def read(self):
        return self.count

    def who(self):
        # The actor's own view of itself, independent of anything the kit reads from outside.
        return ray.get_runtime_context().get_actor_id(), os.getpid()


@ray.remote
def add_many(counter, times):
    for _ in range(times):
        ray.get(counter.increment.remote())
    return times


@ray.remote
def find_by_name(name):
    return ray.get_actor(name)


@ray.remote
class Measurer:
    def measure(self, word):
        return len(word)


# --- no Ray needed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: raykit.actor_state("counter"),
        lambda: raykit.wait_for_actor(Counter),
        lambda: raykit.actor_calls([1, 2], "increment"),
    ],
    ids=["actor_state", "wait_for_actor-class", "actor_calls"],
)
def test_anything_but_a_handle_is_a_config_error_naming_handle(call):
    with pytest.raises(raykit.ConfigError, match=r"\bhandle="):
        call()


def test_the_actor_checks_give_a_hint_for_what_is_not_a_handle():
    with pytest.raises(CheckFailed, match="actor class itself") as info:
        check.actor_restarted(Counter, "increment", read="read")
    assert ".remote()" in info.value.hint
    with pytest.raises(CheckFailed, match="not an actor handle"):
        check.actor_counted_every_call(7, "increment", read="read")
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.same_actor("never_defined_here", "nor_this", name="x")
    with pytest.raises(CheckFailed, match="list of actor handles"):
        check.work_spread_over_actors("a string is no list", "measure", calls=3)


# --- on a cluster -------------------------------------------------------------------------------


def test_actor_id_is_the_id_the_actor_knows_itself_by(cluster):
    counter = Counter.remote()
    own_id, _ = ray.get(counter.who.remote())
    assert actor_id(counter) == own_id
    assert actor_class(counter) == "Counter"


def test_actor_state_is_rays_record_of_that_actor(cluster):
    counter = Counter.options(name="test-actors-state-record").remote()
    own_id, pid = ray.get(counter.who.remote())
    record = raykit.actor_state(counter)
    assert (record.actor_id, record.pid, record.state) == (own_id, pid, "ALIVE")
    assert record.class_name == "Counter" and record.name == "test-actors-state-record"


def test_wait_for_actor_sees_a_restart_in_a_new_process(cluster):
    counter = Counter.options(max_restarts=1).remote()
    _, first_pid = ray.get(counter.who.remote())
    ray.get(counter.increment.remote())
    ray.kill(counter, no_restart=False)
    record = raykit.wait_for_actor(counter, restarts=1, timeout_s=60)
    assert record.state == "ALIVE" and record.num_restarts == 1
    _, second_pid = ray.get(counter.who.remote())
    assert second_pid != first_pid and record.pid == second_pid
    assert ray.get(counter.read.remote()) == 0, "__init__ ran again"


def test_wait_for_actor_returns_a_dead_record_at_once(cluster):
    counter = Counter.options(max_restarts=1).remote()
    ray.get(counter.read.remote())
    ray.kill(counter)  # no_restart=True by default: final
    record = raykit.wait_for_actor(counter, restarts=1, timeout_s=60)
    assert (record.state, record.num_restarts) == ("DEAD", 0)


def test_wait_for_actor_times_out_naming_what_it_waited_for(cluster):
    counter = Counter.remote()
    ray.get(counter.read.remote())
    with pytest.raises(raykit.WaitTimedOut, match="ALIVE after 1 restart"):
        raykit.wait_for_actor(counter, restarts=1, timeout_s=1)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"state": "alive"}, "state"),
        ({"restarts": -1}, "restarts"),
        ({"timeout_s": "5"}, "timeout_s"),
    ],
)
def test_wait_for_actor_bad_arguments(cluster, kwargs, argument):
    counter = Counter.remote()
    with pytest.raises(raykit.ConfigError, match=rf"\b{argument}="):
        raykit.wait_for_actor(counter, **kwargs)


def test_actor_calls_lists_each_finished_call_of_a_method(cluster):
    counter = Counter.remote()
    ray.get([counter.increment.remote() for _ in range(5)] + [counter.read.remote()])
    increments = raykit.actor_calls(counter, "increment")
    assert len(increments) == 5
    assert {t.name for t in increments} == {"Counter.increment"}
    assert {t.actor_id for t in increments} == {actor_id(counter)}
    assert len(raykit.actor_calls(counter)) == 6
    with pytest.raises(raykit.ConfigError, match=r"\bmethod="):
        raykit.actor_calls(counter, "in crement")


# --- the checks of lesson 02, right and wrong ----------------------------------------------------


def test_counted_every_call_passes_for_a_handle_shared_by_tasks(cluster, capsys):
    shared = Counter.remote()
    ray.get([add_many.remote(shared, 5) for _ in range(3)])
    check.actor_counted_every_call(shared, "increment", read="read", callers=2)
    assert "reads 15: Ray recorded 15 calls of increment on it, made by 3 tasks" in (
        capsys.readouterr().out
    )


def test_counted_every_call_fails_when_only_the_driver_called(cluster):
    shared = Counter.remote()
    ray.get([shared.increment.remote() for _ in range(4)])
    with pytest.raises(CheckFailed, match="came from this notebook, none from a task") as info:
        check.actor_counted_every_call(shared, "increment", read="read")
    assert "@ray.remote" in info.value.hint


def test_counted_every_call_fails_when_the_count_disagrees_with_rays_record(cluster):
    shared = Counter.remote()
    ray.get(shared.increment.remote(5))  # one call, counted as five
    with pytest.raises(CheckFailed, match="reads 5, but Ray recorded 1 finished calls"):
        check.actor_counted_every_call(shared, "increment", read="read")


def test_counted_every_call_fails_for_an_untouched_counter(cluster):
    with pytest.raises(CheckFailed, match="nothing called increment"):
        check.actor_counted_every_call(Counter.remote(), "increment", read="read")


def test_same_actor_passes_for_the_named_actor_found_in_a_task(cluster, capsys):
    named = Counter.options(name="test-actors-same", get_if_exists=True).remote()
    found = ray.get(find_by_name.remote("test-actors-same"))
    check.same_actor(found, named, name="test-actors-same")
    assert f"one actor, {actor_id(named)[:12]}..." in capsys.readouterr().out


def test_same_actor_fails_for_a_look_alike_counter(cluster):
    named = Counter.options(name="test-actors-twin", get_if_exists=True).remote()
    twin = Counter.remote()
    with pytest.raises(CheckFailed, match="not the one named 'test-actors-twin'"):
        check.same_actor(twin, named, name="test-actors-twin")


def test_same_actor_fails_when_no_actor_has_the_name(cluster):
    a = Counter.remote()
    with pytest.raises(CheckFailed, match="no live actor is named 'test-actors-nobody'"):
        check.same_actor(a, a, name="test-actors-nobody")


def test_actor_restarted_passes_after_a_kill_that_allows_a_restart(cluster, capsys):
    phoenix = Counter.options(max_restarts=1).remote()
    ray.get([phoenix.increment.remote() for _ in range(3)])
    ray.kill(phoenix, no_restart=False)
    check.actor_restarted(phoenix, "increment", read="read", timeout_s=60)
    out = capsys.readouterr().out
    assert "ALIVE after 1 restart(s), and it reads 0 after 3 calls of increment" in out


def test_actor_restarted_fails_after_a_plain_kill(cluster):
    phoenix = Counter.options(max_restarts=1).remote()
    ray.get(phoenix.increment.remote())
    ray.kill(phoenix)
    with pytest.raises(CheckFailed, match="is DEAD after 0 restart") as info:
        check.actor_restarted(phoenix, "increment", read="read", timeout_s=60)
    assert "no_restart=False" in info.value.hint


def test_actor_restarted_fails_for_an_actor_never_killed(cluster):
    alive = Counter.remote()
    ray.get(alive.increment.remote())
    with pytest.raises(CheckFailed, match="was never restarted"):
        check.actor_restarted(alive, "increment", read="read", timeout_s=2)


def test_work_spread_over_actors_passes_for_a_pool(cluster, capsys):
    words = "one two three four five six".split()
    measurers = [Measurer.remote() for _ in range(3)]
    lengths = list(ActorPool(measurers).map(lambda a, w: a.measure.remote(w), words))
    assert lengths == [len(w) for w in words]
    check.work_spread_over_actors(measurers, "measure", calls=len(words))
    out = capsys.readouterr().out
    counts = [int(n) for n in out.split("[", 1)[1].split("]", 1)[0].split(",")]
    assert sum(counts) == len(words) and sum(1 for n in counts if n) >= 2


def test_work_spread_over_actors_fails_when_one_actor_did_it_all(cluster):
    words = "one two three four".split()
    measurers = [Measurer.remote() for _ in range(3)]
    ray.get([measurers[0].measure.remote(w) for w in words])
    with pytest.raises(CheckFailed, match="only 1 of the 3 actors") as info:
        check.work_spread_over_actors(measurers, "measure", calls=len(words))
    assert "ActorPool" in info.value.hint


def test_work_spread_over_actors_fails_when_items_were_left_out(cluster):
    measurers = [Measurer.remote() for _ in range(2)]
    ray.get([m.measure.remote("x") for m in measurers])
    with pytest.raises(CheckFailed, match="ran 2 calls of measure, fewer than the 5 items"):
        check.work_spread_over_actors(measurers, "measure", calls=5)
