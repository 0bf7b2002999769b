"""raykit's object-store helpers read Ray's own figures: store use and spilling, the references
that keep one object alive, spill files, lost objects; and lesson 03's checks judge from them."""

import numpy as np
import pytest
from _tiers import starts_ray

import raykit
from raykit import _store, check
from raykit.check import CheckFailed
from raykit.exceptions import ConfigError

MB = 1_000_000


def named(value) -> str:
    """Put ``value`` in this module's namespace as ``answer`` and return that name, as a lesson
    passes a check the name of the learner's variable (a hex id given as a bare string could
    read as a name itself)."""
    globals()["answer"] = value
    return "answer"


def test_store_stats_asks_for_a_running_ray_first():
    import ray

    assert not ray.is_initialized()
    with pytest.raises(raykit.RayNotRunning, match=r"raykit.store_stats .*raykit.init\(\) first"):
        raykit.store_stats()
    with pytest.raises(RuntimeError, match=r"raykit.init\(\)"):  # what older callers caught
        raykit.store_stats()
    with pytest.raises(raykit.RayNotRunning), raykit.watch_store():
        pass
    for call in (
        lambda: raykit.object_references("ab" * 28),
        lambda: raykit.spilled_on_disk(),
        lambda: check.object_freed(named("ab" * 28)),
        lambda: check.resolved_nested([], []),
    ):
        with pytest.raises(raykit.RayNotRunning, match=r"raykit.init\(\) first"):
            call()


@pytest.mark.parametrize("interval_s", [0, -1, "fast", None, True, float("inf")])
def test_watch_store_names_a_bad_interval(interval_s):
    with pytest.raises(ConfigError, match="interval_s"):
        raykit.watch_store(interval_s)


def test_a_store_watch_read_before_its_block_says_so_in_a_raykit_error():
    watch = raykit.watch_store()
    for figure in ("peak_used_mb", "spilled_mb", "restored_mb", "capacity_mb"):
        with pytest.raises(raykit.StoreWatchNotDone, match="has not started.*after") as info:
            getattr(watch, figure)
        assert isinstance(info.value, raykit.RaykitError)
        assert isinstance(info.value, RuntimeError)  # what older callers caught
    assert "running" in repr(watch)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: raykit.store_stats(settle=1), "settle"),
        (lambda: raykit.store_stats(settle=True, timeout_s="10"), "timeout_s"),
        (lambda: raykit.spilled_on_disk(settle=None), "settle"),
        (lambda: raykit.object_references(42), "ref"),
        (lambda: raykit.object_references("0" * 55), "ref"),  # one hex digit short
        (lambda: raykit.object_references("ab" * 28, wait_s=-1), "wait_s"),
        (lambda: raykit.ipython_references(None), "ref"),
        (lambda: raykit.wait_for_error("ab" * 28), "ref"),
    ],
)
def test_bad_arguments_name_the_argument(call, argument):
    with pytest.raises(ConfigError, match=rf"\b{argument}="):
        call()


def test_settling_reads_until_two_readings_agree(monkeypatch):
    monkeypatch.setattr(_store, "SETTLE_EVERY_S", 0.0)
    readings = iter([9, 7, 4, 4, 1])
    assert _store._settled(lambda: next(readings), timeout_s=5) == 4
    monkeypatch.setattr(_store, "SETTLE_EVERY_S", 0.01)
    readings = iter([9, 7, 7, 4, 4, 4, 1])
    assert _store._settled(lambda: next(readings), timeout_s=5, quiet=2) == 4, "two quiet reads"
    falling = iter(range(1000, 0, -1))
    assert _store._settled(lambda: next(falling), timeout_s=0.05) < 1000, "the last reading"


def test_ipython_references_lists_the_output_cache_entries_that_hold_a_ref(monkeypatch):
    class Ref:  # stands in for ray.ObjectRef: only .hex() is read
        def __init__(self, hex_id):
            self.hex_id = hex_id

        def hex(self):
            return self.hex_id

    import ray

    monkeypatch.setattr(ray, "ObjectRef", Ref)
    mine, other = Ref("ab" * 28), Ref("cd" * 28)

    class Shell:
        user_ns = {"Out": {3: mine, 4: other, 5: 42}, "_": mine, "__": other}
        user_ns_hidden = {"_": other, "___": mine}

    monkeypatch.setattr("raykit._exercise._ipython", lambda: Shell)
    assert raykit.ipython_references(mine.hex()) == ["Out[3]", "_", "___ (hidden copy)"]
    monkeypatch.setattr("raykit._exercise._ipython", lambda: None)
    assert raykit.ipython_references(mine.hex()) == [], "outside IPython: nothing to list"


@pytest.fixture(scope="module")
@starts_ray
def small_store():
    """A two-CPU cluster with a 100 MB object store (small enough to overfill in a test) and
    the dashboard, which the State API needs."""
    session = raykit.init(num_cpus=2, object_store_memory="100MB")
    yield session
    raykit.shutdown()


def test_store_stats_counts_an_object_put_in_the_store(small_store):
    import ray

    before = raykit.store_stats()
    assert 90 <= before["capacity_mb"] <= 110, "the capacity asked for at init"
    ref = ray.put(np.ones(20 * MB // 8))
    after = raykit.store_stats()
    assert after["used_mb"] - before["used_mb"] >= 19.9
    assert after["objects"] >= before["objects"] + 1
    del ref


def test_references_of_one_object_from_put_to_freed(small_store):
    import ray

    ref = ray.put(np.ones(10 * MB // 8))
    object_id = ref.hex()
    assert raykit.object_references(ref) == ["LOCAL_REFERENCE"]
    view = ray.get(ref)
    assert raykit.object_references(object_id) == ["PINNED_IN_MEMORY"], "a live zero-copy view"
    used = raykit.store_stats()["used_mb"]
    del ref, view
    assert raykit.object_references(object_id, wait_s=10) == []
    settled = raykit.store_stats(settle=True)
    assert settled["used_mb"] <= used - 9.9, "the freed object left the store"
    assert settled == raykit.store_stats(), "settled: a fresh reading agrees"


def test_a_ref_nested_in_a_live_object_keeps_its_object(small_store):
    import ray

    inner = ray.put(np.ones(10 * MB // 8))
    outer = ray.put([inner])
    inner_id = inner.hex()
    del inner
    assert raykit.object_references(inner_id, wait_s=1) == ["CAPTURED_IN_OBJECT"]
    del outer
    assert raykit.object_references(inner_id, wait_s=10) == []


def test_wait_for_error_returns_the_error_of_an_object_whose_owner_died(small_store):
    import ray

    @ray.remote
    class Maker:
        def make(self):
            return [ray.put(np.arange(10))]

    maker = Maker.remote()
    [ref] = ray.get(maker.make.remote())
    assert list(ray.get(ref)) == list(range(10))
    ray.kill(maker)
    assert isinstance(raykit.wait_for_error(ref, timeout_s=60), ray.exceptions.OwnerDiedError)
    alive = ray.put(1)
    with pytest.raises(raykit.WaitTimedOut, match="an error from ray.get"):
        raykit.wait_for_error(alive, timeout_s=0.5)


def test_watch_store_sees_the_peak_and_the_spill_of_an_overfilled_store(small_store):
    import ray

    on_disk_before = raykit.spilled_on_disk()
    with raykit.watch_store(interval_s=0.02) as store:
        # 15 arrays of 10 MB, all kept: 150 MB cannot fit in a 100 MB store.
        refs = [ray.put(np.full(10 * MB // 8, float(i))) for i in range(15)]
    assert store.peak_used_mb >= 10, "the sampler saw the arrays in the store"
    assert store.spilled_mb > 0, "Ray spilled what did not fit, and the watch counted it"
    on_disk = raykit.spilled_on_disk(settle=True)
    # The spilled objects are all still referenced, so their files are all still there.
    assert on_disk - on_disk_before >= 0.9 * store.spilled_mb, (on_disk, store.spilled_mb)
    assert [ray.get(ref)[0] for ref in refs] == [float(i) for i in range(15)]
    assert store.restored_mb == 0, "figures are the block's: reads after it are not counted"
    assert "spilled" in repr(store) and len(store.samples) >= 2
    del refs
    raykit.wait_until(lambda: raykit.spilled_on_disk() < on_disk, timeout_s=30, what="deleting")


def test_watch_store_figures_wait_for_the_block_to_end(small_store):
    with raykit.watch_store() as watch:
        with pytest.raises(raykit.StoreWatchNotDone, match="still running"):
            _ = watch.peak_used_mb
    assert watch.peak_used_mb >= 0
    failed = raykit.watch_store()
    with pytest.raises(ZeroDivisionError), failed:
        raise ZeroDivisionError
    with pytest.raises(raykit.StoreWatchNotDone, match="ended with an error"):
        _ = failed.spilled_mb


# -- lesson 03's checks, on right and wrong answers -----------------------------------------------


def test_object_freed_passes_once_every_reference_is_gone(small_store, capsys):
    import ray

    ref = ray.put(np.ones(MB // 8))
    view = ray.get(ref)
    freed_id = ref.hex()
    del ref, view
    check.object_freed(named(freed_id))
    assert "gone" in capsys.readouterr().out


def test_object_freed_names_what_still_holds_the_object(small_store):
    import ray

    ref = ray.put(np.ones(MB // 8))
    kept, object_id = [ref], ref.hex()
    del ref
    with pytest.raises(CheckFailed, match="a ref to it is alive here.*LOCAL_REFERENCE"):
        check.object_freed(named(object_id), wait_s=0.5)
    view = ray.get(kept[0])
    del kept
    with pytest.raises(CheckFailed, match="value you got with ray.get.*PINNED_IN_MEMORY"):
        check.object_freed(named(object_id), wait_s=0.5)
    del view
    check.object_freed(named(object_id))


@pytest.mark.parametrize(
    "answer, problem",
    [
        ("ab" * 28, "not the id of an object made in this notebook's Ray job"),
        ("not an id", "not an object id"),
        (None, "not an object id"),
    ],
)
def test_object_freed_rejects_what_is_not_an_id_of_this_job(small_store, answer, problem):
    with pytest.raises(CheckFailed, match=problem):
        check.object_freed(named(answer), wait_s=0)


def test_object_freed_rejects_the_ref_itself(small_store):
    import ray

    with pytest.raises(CheckFailed, match="the ObjectRef itself") as info:
        check.object_freed(ray.put(1))
    assert "ref.hex()" in info.value.hint


@pytest.fixture(scope="module")
def tasks(small_store):
    import ray

    @ray.remote
    def make_array(n):
        return np.arange(n, dtype=np.float64)

    @ray.remote
    def checksum(arr):
        return float(arr[::1000].sum())

    @ray.remote
    def split(arr, n_parts):
        return [ray.put(part) for part in np.array_split(arr, n_parts)]

    return make_array, checksum, split


def test_not_fetched_passes_a_ref_handed_from_task_to_task(tasks, capsys):
    import ray

    make_array, checksum, _ = tasks
    big_ref = make_array.remote(MB // 8)
    assert ray.get(checksum.remote(big_ref)) == float(np.arange(MB // 8)[::1000].sum())
    check.not_fetched(big_ref)
    assert "only as a reference" in capsys.readouterr().out


def test_not_fetched_fails_while_a_fetched_value_is_alive_here(tasks):
    import ray

    make_array, _, _ = tasks
    big_ref = make_array.remote(MB // 8)
    big = ray.get(big_ref)
    with pytest.raises(CheckFailed, match="holds a copy .*PINNED_IN_MEMORY in this process"):
        check.not_fetched(big_ref)
    del big
    check.not_fetched(big_ref)


def test_not_fetched_fails_on_a_put_ref_and_on_a_value(tasks):
    import ray

    make_array, _, _ = tasks
    with pytest.raises(CheckFailed, match="made with ray.put"):
        check.not_fetched(ray.put(ray.get(make_array.remote(MB // 8))))
    with pytest.raises(CheckFailed, match="ndarray, a value here"):
        check.not_fetched(np.arange(3.0))


def test_resolved_nested_passes_refs_from_inside_a_result_and_their_values(tasks, capsys):
    import ray

    _, _, split = tasks
    data = np.arange(100.0)
    part_refs = ray.get(split.remote(data, 4))
    check.resolved_nested(part_refs, ray.get(part_refs))
    assert "4 refs" in capsys.readouterr().out


def test_resolved_nested_fails_on_unresolved_or_wrong_values(tasks):
    import ray

    _, _, split = tasks
    data = np.arange(100.0)
    outer_ref = split.remote(data, 4)
    part_refs = ray.get(outer_ref)
    with pytest.raises(CheckFailed, match="one ObjectRef, the task's own result"):
        check.resolved_nested(outer_ref, ray.get(part_refs))
    with pytest.raises(CheckFailed, match="holds ObjectRefs"):
        check.resolved_nested(part_refs, part_refs)
    with pytest.raises(CheckFailed, match="not the values"):
        check.resolved_nested(part_refs, list(reversed(ray.get(part_refs))))
    with pytest.raises(CheckFailed, match="holds values, not ObjectRefs"):
        check.resolved_nested(ray.get(part_refs), ray.get(part_refs))
    mine = [ray.put(p) for p in np.array_split(data, 4)]
    with pytest.raises(CheckFailed, match="made here"):
        check.resolved_nested(mine, ray.get(mine))
