"""raykit.store_stats and raykit.watch_store read the object store's real usage and spilling."""

import numpy as np
import pytest

import raykit
from raykit.exceptions import ConfigError

MB = 1_000_000


def test_store_stats_asks_for_a_running_ray_first():
    import ray

    assert not ray.is_initialized()
    with pytest.raises(raykit.RayNotRunning, match=r"raykit.store_stats .*raykit.init\(\) first"):
        raykit.store_stats()
    with pytest.raises(RuntimeError, match=r"raykit.init\(\)"):  # what older callers caught
        raykit.store_stats()
    with pytest.raises(raykit.RayNotRunning), raykit.watch_store():
        pass


@pytest.mark.parametrize("interval_s", [0, -1, "fast", None, True, float("inf")])
def test_watch_store_names_a_bad_interval(interval_s):
    with pytest.raises(ConfigError, match="interval_s"):
        raykit.watch_store(interval_s)


@pytest.fixture(scope="module")
def small_store():
    """A one-CPU cluster with a 100 MB object store, small enough to overfill in a test."""
    session = raykit.init(num_cpus=1, object_store_memory="100MB", include_dashboard=False)
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


def test_watch_store_sees_the_peak_and_the_spill_of_an_overfilled_store(small_store):
    import ray

    with raykit.watch_store(interval_s=0.02) as store:
        # 15 arrays of 10 MB, all kept: 150 MB cannot fit in a 100 MB store.
        refs = [ray.put(np.full(10 * MB // 8, float(i))) for i in range(15)]
    assert store.peak_used_mb >= 10, "the sampler saw the arrays in the store"
    assert store.spilled_mb > 0, "Ray spilled what did not fit, and the watch counted it"
    assert [ray.get(ref)[0] for ref in refs] == [float(i) for i in range(15)]
    assert store.restored_mb == 0, "figures are the block's: reads after it are not counted"
    assert "spilled" in repr(store) and len(store.samples) >= 2
    del refs


def test_watch_store_figures_wait_for_the_block_to_end(small_store):
    watch = raykit.watch_store()
    with pytest.raises(RuntimeError, match="with"):
        _ = watch.peak_used_mb
