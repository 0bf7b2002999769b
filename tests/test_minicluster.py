"""MiniCluster with real processes: nodes join, die by SIGKILL, and nothing outlives the cluster.

Each cluster start costs 10-60 s on a small host, so the module starts two: one shared by most
tests (connected to this process's driver), and one with Redis that ends in an exception.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psutil
import pytest

import raykit
from raykit import ConfigError, MiniCluster
from raykit.check import CheckFailed


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _mentioning(text: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if text in " ".join(proc.info["cmdline"] or []) and _running(proc.pid):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def cluster():
    """Head (labelled) and one worker with a custom resource and a label; a driver connected."""
    mc = MiniCluster(labels={"market": "on-demand"})
    try:
        mc.add_node(num_cpus=1, resources={"zone_a": 1}, labels={"zone": "a"})
        raykit.init(address=mc.address)
        yield mc
    finally:
        mc.close()


def test_nodes_join_with_their_resources_and_labels(cluster):
    import ray

    nodes = {n["NodeID"]: n for n in ray.nodes() if n["Alive"]}
    assert set(nodes) == {n.node_id for n in cluster.nodes}
    worker = nodes[cluster.workers[0].node_id]
    assert worker["Resources"]["zone_a"] == 1 and worker["Resources"]["CPU"] == 1
    assert worker["Labels"]["zone"] == "a"
    assert nodes[cluster.head.node_id]["Labels"]["market"] == "on-demand"
    assert cluster.name_of(cluster.workers[0].node_id) == "n01"


def test_tasks_run_where_their_resources_are_with_token_auth(cluster):
    import ray

    @ray.remote
    def where():
        return ray.get_runtime_context().get_node_id()

    assert ray.get(where.options(resources={"zone_a": 1}).remote()) == cluster.workers[0].node_id
    # Every node was started with token authentication on, and answers this driver.
    raylet = cluster.workers[0].raylet()
    assert raylet.environ().get("RAY_AUTH_MODE") == "token"


def test_check_ran_on_labelled_node(cluster):
    # Answers are named by string, as in the lesson's self-check: they live in this module.
    global right_node, wrong_node
    right_node, wrong_node = cluster.workers[0].node_id, cluster.head.node_id
    raykit.check.ran_on_labelled_node("right_node", "zone", "a")
    with pytest.raises(CheckFailed, match="label 'zone' is None"):
        raykit.check.ran_on_labelled_node("wrong_node", "zone", "a")
    with pytest.raises(CheckFailed, match="not defined"):
        raykit.check.ran_on_labelled_node("no_such_answer", "zone", "a")
    with pytest.raises(CheckFailed, match="not a node id"):
        raykit.check.ran_on_labelled_node(42, "zone", "a")


def test_add_node_then_kill_node_kills_its_raylet(cluster):
    import ray

    node = cluster.add_node(num_cpus=1, resources={"gpu_sim": 1})
    raylet = node.raylet()
    assert raylet is not None and raylet.pid in node.pids
    assert ray.cluster_resources().get("gpu_sim") == 1

    seconds = cluster.kill_node(node)

    assert seconds > 0
    assert not _running(raylet.pid), "the raylet is gone"
    assert node.processes() == [] and not node.alive
    dead = [n for n in ray.nodes() if n["NodeID"] == node.node_id]
    assert dead and dead[0]["Alive"] is False, "the GCS reports the node dead"
    assert "gpu_sim" not in ray.available_resources()


def test_kill_node_refuses_the_head_and_strangers(cluster):
    with pytest.raises(ConfigError, match="restart_gcs"):
        cluster.kill_node(cluster.head)
    with pytest.raises(ConfigError, match="not part of this cluster"):
        cluster.kill_node(object())


def test_restart_gcs_needs_fault_tolerance(cluster):
    with pytest.raises(ConfigError, match="gcs_fault_tolerance=True"):
        cluster.restart_gcs()


def test_close_kills_every_process_it_started(cluster):
    import ray

    root, pids = cluster.root, cluster.pids
    assert pids and all(isinstance(p, int) for p in pids)
    assert _mentioning(root), "the cluster's processes name its folder"
    # Each process is recorded with its own start time, which a kill checks first.
    raylet = cluster.head.raylet()
    recorded = {i.pid: i.create_time for i in cluster._sup.identities()}
    assert recorded[raylet.pid] == pytest.approx(raylet.create_time(), abs=1)
    assert cluster.watchdog_log == Path(root + ".watchdog.log")

    cluster.close()

    assert not ray.is_initialized(), "close() disconnected the driver from the closed cluster"
    assert [p for p in pids if _running(p)] == []
    assert _mentioning(root) == []
    assert not os.path.exists(root)
    cluster.close()  # twice is fine
    with pytest.raises(ConfigError, match="closed"):
        cluster.add_node()


@pytest.mark.skipif(not __import__("shutil").which("redis-server"), reason="needs redis-server")
def test_exception_inside_with_still_cleans_up_redis_and_gcs_restarts():
    recorded: dict = {}
    with pytest.raises(RuntimeError, match="boom"):
        with MiniCluster(gcs_fault_tolerance=True) as mc:
            recorded["root"], recorded["pids"] = mc.root, mc.pids
            assert mc.redis_address.startswith("127.0.0.1:")
            old_gcs = {p.pid for p in mc.head.processes() if "gcs_server" in p.name()}
            assert mc.restart_gcs() >= 0
            new_gcs = {p.pid for p in mc.head.processes() if "gcs_server" in p.name()}
            assert new_gcs and not new_gcs & old_gcs, "a new gcs_server process runs"
            recorded["pids"] |= mc.pids
            raise RuntimeError("boom")
    assert [p for p in recorded["pids"] if _running(p)] == [], "redis and every node are gone"
    assert _mentioning(recorded["root"]) == []
    assert not os.path.exists(recorded["root"])


def test_port_in_use_is_named_before_anything_starts():
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port={port} is already in use"):
            MiniCluster(port=port)


def test_more_workers_than_the_host_carries_is_refused():
    before = set(os.listdir(os.environ.get("RAY_TMPDIR", "/tmp")))
    with pytest.raises(ConfigError, match="more than this host can carry"):
        MiniCluster(workers=1000)
    assert set(os.listdir(os.environ.get("RAY_TMPDIR", "/tmp"))) == before, "nothing started"


def test_bad_arguments_name_the_fix(monkeypatch):
    with pytest.raises(ConfigError, match="labels="):
        MiniCluster(labels={"zone": 1})
    with pytest.raises(ConfigError, match="object_store_memory="):
        MiniCluster(object_store_memory=1000)
    with pytest.raises(ConfigError, match="workers="):
        MiniCluster(workers=-1)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ConfigError, match="apt-get install redis-server"):
        MiniCluster(gcs_fault_tolerance=True)


# The watchdog (an owner SIGKILLed with a cluster, its Redis and a Prometheus up) is tested in
# tests/test_supervisor.py.
