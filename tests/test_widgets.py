"""ClusterView and progress(), driven through their widget models without a browser or kernel."""

from __future__ import annotations

import time

import pytest
import ray
from _tiers import starts_ray
from conftest import well_formed_text

import raykit
from raykit import _widgets


def wait_until(predicate, timeout=30.0, step=0.2):
    """Poll until ``predicate()`` is true; task events reach the State API 0.2-1 s late."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture(scope="module")
@starts_ray
def cluster():
    raykit.init(num_cpus=2, object_store_memory="200MB")
    yield
    raykit.shutdown()


@ray.remote
def finish(x):
    return x


@ray.remote
def explode():
    raise ValueError("deliberate")


@ray.remote
class Pinger:
    def ping(self):
        return "pong"


def test_view_shows_the_cluster_resources(cluster):
    view = raykit.ClusterView(start=False)
    cpus = ray.cluster_resources()["CPU"]
    assert view.bars["CPU"].max == cpus
    assert view.bar_labels["CPU"].value.startswith(f"0 / {cpus:g}")
    text = well_formed_text(view.nodes.value)
    node_id = ray.nodes()[0]["NodeID"][:8]
    assert node_id in text and "alive" in text and "(head)" in text
    assert "live" in view.status


def test_view_counts_finished_and_failed_tasks_and_live_actors(cluster):
    view = raykit.ClusterView(start=False)
    ray.get([finish.remote(i) for i in range(5)])
    with pytest.raises(ray.exceptions.RayTaskError):
        ray.get(explode.remote())
    actor = Pinger.remote()
    ray.get(actor.ping.remote())

    def counted():
        view.refresh()
        tasks, actors = view.work_counts["tasks"], view.work_counts["actors"]
        return tasks["finished"] >= 5 and tasks["failed"] >= 1 and actors["ALIVE"] >= 1

    assert wait_until(counted), view.work_counts
    text = well_formed_text(view.work.value)
    assert "failed" in text and "ALIVE" in text
    assert "actors: " in repr(view)
    ray.kill(actor)


def test_cpu_bar_moves_while_tasks_run(cluster):
    @ray.remote
    def hold(seconds):
        time.sleep(seconds)

    view = raykit.ClusterView(start=False)
    refs = [hold.remote(3) for _ in range(2)]
    assert wait_until(lambda: (view.refresh(work=False), view.bars["CPU"].value)[1] == 2)
    ray.get(refs)
    assert wait_until(lambda: (view.refresh(work=False), view.bars["CPU"].value)[1] == 0)


def test_refresh_loop_runs_in_the_background_and_stops_cleanly(cluster):
    view = raykit.ClusterView(fast_interval=0.1, state_interval=0.5)
    assert view.running
    assert wait_until(lambda: len(view.stats["fast"]) >= 3 and len(view.stats["state"]) >= 1)
    view.button.click()  # the visible stop button
    assert not view.running and view.button.description == "Start"
    assert "stopped" in view.status and "stopped" in view.header.value
    count = len(view.stats["fast"])
    time.sleep(0.4)
    assert len(view.stats["fast"]) == count, "no refresh after stop"
    view.button.click()
    assert view.running
    view.stop()


def test_progress_counts_done_and_failed(cluster, monkeypatch):
    from tqdm.notebook import tqdm as notebook_tqdm

    monkeypatch.setattr(_widgets, "_tqdm_class", lambda: notebook_tqdm)
    refs = [finish.remote(i) for i in range(4)] + [explode.remote()]
    bar = raykit.progress(refs, desc="demo").wait(timeout=60)
    assert (bar.done, bar.failed, bar.total) == (5, 1, 5)
    widget = bar.bar.container.children[1]  # tqdm.notebook: [label, progress, counter]
    assert widget.value == 5 and widget.max == 5
    assert "failed=1" in bar.bar.container.children[2].value
    assert repr(bar) == "Progress: 5/5 done, 1 failed"


def test_progress_rejects_values_with_a_clear_error(cluster):
    with pytest.raises(raykit.ConfigError, match="list of ObjectRefs"):
        raykit.progress([1, 2, 3])


def test_view_says_so_when_the_cluster_goes_away(cluster):
    # Runs after the other tests that share the module's cluster: it stops that cluster.
    view = raykit.ClusterView(fast_interval=0.1, state_interval=0.5)
    raykit.shutdown()
    assert wait_until(lambda: "no cluster" in view.status)
    assert view.running, "the view keeps going, ready for the next raykit.init()"
    assert view.bars["CPU"].max == 2, "the last known state stays on screen"
    view.stop()


@pytest.mark.ray_cluster
def test_view_says_so_when_the_dashboard_is_off():
    raykit.init(num_cpus=1, include_dashboard=False)
    try:
        view = raykit.ClusterView(start=False)
        assert view.work_counts is None
        assert "State API" in well_formed_text(view.work.value)
        assert view.bars["CPU"].max == 1, "resources still show: they come from the GCS"
    finally:
        raykit.shutdown()
