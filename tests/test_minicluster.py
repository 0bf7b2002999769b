"""MiniCluster with real processes: nodes join, die by SIGKILL, and nothing outlives the cluster.

Each cluster start costs 10-60 s on a small host, so the module starts two: one shared by most
tests (connected to this process's driver), and one with Redis that ends in an exception.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import psutil
import pytest
from _tiers import starts_ray

import raykit
from raykit import ConfigError, MiniCluster, _ports
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
@starts_ray
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


def test_start_command_is_the_ray_start_each_node_ran(cluster):
    import ray

    head, worker = cluster.head.start_command, cluster.workers[0].start_command
    gcs_port = cluster.address.rsplit(":", 1)[1]
    assert f"ray start --head --port={gcs_port}" in head and "--labels=market=on-demand" in head
    assert "RAY_health_check_period_ms=1000" in head and "RAY_AUTH_MODE=token" in head
    assert f"ray start --address={cluster.address}" in worker
    assert """'--resources={"zone_a": 1}'""" in worker and "--labels=zone=a" in worker
    assert "--head" not in worker and "RAY_health_check" not in worker
    assert all(len(line) <= 100 for line in (head + "\n" + worker).splitlines())
    # The ports on the command line are the ones Ray reports for each node.
    for node in (cluster.head, cluster.workers[0]):
        (record,) = [n for n in ray.nodes() if n["NodeID"] == node.node_id]
        port = re.search(r"--node-manager-port=(\d+)", node.start_command).group(1)
        assert int(port) == record["NodeManagerPort"]


def test_ray_cli_runs_rays_command_line_against_the_cluster(cluster):
    import ray

    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    outputs = []

    def active(out: str) -> set[str]:
        return set(re.findall(r"^ *1 node_([0-9a-f]+)$", out, re.MULTILINE))

    def status_lists_every_node() -> bool:
        # `ray status` shows the autoscaler's view, which lags a node's registration by a
        # report or two: once, under load, it listed the head only (2026-12-07).
        outputs.append(cluster.ray_cli("status"))
        return active(outputs[-1]) == alive

    raykit.wait_until(status_lists_every_node, timeout_s=60, every_s=2, raise_on_timeout=False)
    out = outputs[-1]
    assert out.startswith("$ ray status\n") and "Active:" in out
    assert active(out) == alive, out
    with pytest.raises(raykit.RaykitError, match="exited with"):
        cluster.ray_cli("no-such-command")


def test_process_roles_name_each_nodes_processes(cluster):
    roles = cluster.process_roles()
    assert set(roles) == {"n00", "n01"}
    assert roles["n00"]["gcs_server"] == 1 and roles["n00"]["raylet"] == 1
    assert roles["n01"]["raylet"] == 1
    assert "gcs_server" not in roles["n01"] and "dashboard" not in roles["n01"]
    assert "dashboard" in roles["n00"] and "dashboard agent" in roles["n01"]


def test_tasks_run_where_their_resources_are_with_token_auth(cluster):
    import ray

    @ray.remote
    def where():
        return ray.get_runtime_context().get_node_id()

    assert ray.get(where.options(resources={"zone_a": 1}).remote()) == cluster.workers[0].node_id
    # Every node was started with token authentication on, and answers this driver.
    raylet = cluster.workers[0].raylet()
    assert raylet.environ().get("RAY_AUTH_MODE") == "token"


def test_check_ran_by_label_and_copies(cluster):
    import numpy as np
    import ray

    @ray.remote
    def where():
        return ray.get_runtime_context().get_node_id()

    # Answers are named by string, as in the lesson's self-check: they live in this module.
    global by_label, by_resource, nowhere
    by_label = where.options(label_selector={"zone": "a"}).remote()
    by_resource = where.options(resources={"zone_a": 1}).remote()
    nowhere = where.options(label_selector={"zone": "z"}).remote()
    raykit.check.ran_by_label("by_label", {"zone": "a"})
    with pytest.raises(CheckFailed, match="no label_selector"):
        raykit.check.ran_by_label("by_resource", {"zone": "a"})
    with pytest.raises(CheckFailed, match="no live node is labelled zone=z"):
        raykit.check.ran_by_label("nowhere", {"zone": "z"})
    with pytest.raises(CheckFailed, match="not market=on-demand"):
        raykit.check.ran_by_label("by_label", {"market": "on-demand"})
    with pytest.raises(CheckFailed, match="not defined"):
        raykit.check.ran_by_label("no_such_answer", {"zone": "a"})
    with pytest.raises(CheckFailed, match="not the ObjectRef"):
        raykit.check.ran_by_label(42, {"zone": "a"})
    ray.cancel(nowhere)

    @ray.remote(resources={"zone_a": 1})
    def make():
        return np.ones(1_000_000)  # 8 MB: stored in n01's object store, not inline

    array = make.remote()
    ray.wait([array], fetch_local=False)
    names, size = cluster.copies(array)
    assert names == ["n01"] and size >= 8_000_000


def test_add_node_then_kill_node_kills_its_raylet(cluster):
    import ray

    node = cluster.add_node(num_cpus=2, resources={"gpu_sim": 1}, labels={"pool": "doomed"})
    raylet = node.raylet()
    assert raylet is not None and raylet.pid in node.pids
    assert ray.cluster_resources().get("gpu_sim") == 1
    # On the node: two tasks (with and without retries) and two actors (with and without
    # restarts), each falling back to the head once the node is gone.
    doomed = dict(
        label_selector={"pool": "doomed"},
        fallback_strategy=[{"label_selector": {"market": "on-demand"}}],
    )

    @ray.remote
    def slow(node_to_hold):
        # Held on the doomed node until it dies (so both tasks run there when it is killed,
        # however slowly their workers start); a retry elsewhere returns at once.
        here = ray.get_runtime_context().get_node_id()
        if here == node_to_hold:
            time.sleep(600)
        return here

    @ray.remote(num_cpus=0)
    class Where:
        def where(self):
            return ray.get_runtime_context().get_node_id()

    global survivor, fragile, comeback, gone
    survivor = slow.options(max_retries=2, **doomed).remote(node.node_id)
    fragile = slow.options(max_retries=0, **doomed).remote(node.node_id)
    comeback = Where.options(max_restarts=1, max_task_retries=1, **doomed).remote()
    gone = Where.options(**doomed).remote()
    assert ray.get([comeback.where.remote(), gone.where.remote()]) == [node.node_id] * 2

    def both_running():
        return len([t for t in cluster.running_on(node) if t.name.endswith("slow")]) == 2

    # Each task needs a worker process of its own on the node: slow to start on a loaded host.
    if not raykit.wait_until(both_running, timeout_s=300, raise_on_timeout=False):
        from ray.util.state import list_tasks

        seen = list_tasks(address=cluster.address, filters=[("type", "=", "NORMAL_TASK")])
        pytest.fail(f"not both on the node: {[(t.name, t.state, t.node_id) for t in seen]}")
    # Both tasks, each once (the State API can list a task's record twice while it changes).
    running = cluster.running_on(node, wait_for=["slow"])
    assert len({t.task_id for t in running if t.name.endswith("slow")}) == 2, running

    seconds = cluster.kill_node(node)

    assert seconds > 0
    assert not _running(raylet.pid), "the raylet is gone"
    assert node.processes() == [] and not node.alive
    dead = [n for n in ray.nodes() if n["NodeID"] == node.node_id]
    assert dead and dead[0]["Alive"] is False, "the GCS reports the node dead"
    assert "gpu_sim" not in ray.available_resources()

    # The retried task: its first attempt died with the node, the second ran on the head.
    assert ray.get(survivor, timeout=120) == cluster.head.node_id
    (tries,) = cluster.attempts([survivor])
    assert [(a.state, a.node_id, a.error_type) for a in tries] == [
        ("FAILED", node.node_id, "NODE_DIED"),
        ("FINISHED", cluster.head.node_id, None),
    ]
    raykit.check.survived_node_loss("survivor")
    with pytest.raises(CheckFailed, match="failed with .* when its node died"):
        raykit.check.survived_node_loss("fragile")
    raykit.check.restarted_elsewhere("comeback", "where")
    with pytest.raises(CheckFailed, match="max_restarts"):
        raykit.check.restarted_elsewhere("gone", "where")

    from ray.util.state import list_nodes

    raykit.check.found_dead_nodes([n for n in ray.nodes() if not n["Alive"]])
    raykit.check.found_dead_nodes(
        [n for n in list_nodes(address=cluster.address) if n.state == "DEAD"]
    )
    with pytest.raises(CheckFailed, match="Ray reports alive"):
        raykit.check.found_dead_nodes([n for n in ray.nodes() if n["Alive"]])
    with pytest.raises(CheckFailed, match="not a node record"):
        raykit.check.found_dead_nodes([node.node_id])
    with pytest.raises(CheckFailed, match="misses 1"):
        raykit.check.found_dead_nodes([])


def test_checks_fail_when_no_node_died_under_the_answer(cluster):
    import ray

    @ray.remote
    def quick():
        return 1

    @ray.remote(num_cpus=0, max_restarts=1)
    class Where:
        def where(self):
            return ray.get_runtime_context().get_node_id()

    global safe_task, safe_actor
    safe_task = quick.options(resources={"zone_a": 1}).remote()
    safe_actor = Where.options(label_selector={"zone": "a"}).remote()
    with pytest.raises(CheckFailed, match="no attempt of the task of `safe_task` was lost"):
        raykit.check.survived_node_loss("safe_task")
    with pytest.raises(CheckFailed, match="never lost its node"):
        raykit.check.restarted_elsewhere("safe_actor", "where")
    with pytest.raises(CheckFailed, match="no method nowhere"):
        raykit.check.restarted_elsewhere("safe_actor", "nowhere")
    with pytest.raises(CheckFailed, match="the actor class itself"):
        raykit.check.restarted_elsewhere(Where, "where")


def test_new_methods_name_their_bad_arguments(cluster):
    import ray

    with pytest.raises(ConfigError, match="args="):
        cluster.ray_cli()
    with pytest.raises(ConfigError, match="timeout_s="):
        cluster.ray_cli("status", timeout_s=0)
    with pytest.raises(ConfigError, match="node="):
        cluster.running_on(object())
    with pytest.raises(ConfigError, match="wait_for="):
        cluster.running_on(cluster.head, wait_for="slow")
    with pytest.raises(ConfigError, match="refs="):
        cluster.attempts([1, 2])
    with pytest.raises(ConfigError, match="ref="):
        cluster.copies(42)
    with pytest.raises(ConfigError, match="at_least="):
        cluster.copies(ray.put(1), at_least=0)


def test_kill_node_refuses_the_head_and_strangers(cluster):
    with pytest.raises(ConfigError, match="restart_gcs"):
        cluster.kill_node(cluster.head)
    with pytest.raises(ConfigError, match="not part of this cluster"):
        cluster.kill_node(object())


def test_restart_gcs_needs_fault_tolerance(cluster):
    with pytest.raises(ConfigError, match="gcs_fault_tolerance=True"):
        cluster.restart_gcs()


@pytest.mark.ray_cluster
def test_a_node_whose_port_was_taken_starts_again_on_fresh_ports(cluster, monkeypatch):
    import ray

    from raykit import _minicluster

    picks = []

    def free_ports_first_one_taken(count, host="", avoid=()):
        ports = _ports.free_ports(count, host, avoid)
        if not picks:  # the first attempt's node manager port: taken since it was picked
            ports[0] = busy.getsockname()[1]
        picks.append(ports)
        return ports

    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        monkeypatch.setattr(_minicluster, "free_ports", free_ports_first_one_taken)
        node = cluster.add_node(num_cpus=1, resources={"retried": 1})
    try:
        assert len(picks) == 2, "one failed attempt, then a start on other ports"
        assert node.ports["node_manager"] == picks[1][0] != picks[0][0]
        assert f"--node-manager-port={picks[1][0]}" in node.start_flags
        assert ray.cluster_resources().get("retried") == 1
    finally:
        cluster.kill_node(node)


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
@pytest.mark.ray_cluster
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


def test_a_missing_ray_tmpdir_is_made_and_one_that_cannot_be_is_named(tmp_path, monkeypatch):
    from raykit._session import made_ray_tmpdir

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "not" / "yet"))
    assert made_ray_tmpdir() == str(tmp_path / "not" / "yet")
    assert (tmp_path / "not" / "yet").is_dir(), "made, as ray start makes its --temp-dir"
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "a-file" / "ray"))
    with pytest.raises(ConfigError, match=r"RAY_TMPDIR=.*a-file/ray.*or unset it"):
        MiniCluster()  # was: FileNotFoundError from tempfile.mkdtemp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "not"], "nothing started"


# The watchdog (an owner SIGKILLed with a cluster, its Redis and a Prometheus up) is tested in
# tests/test_supervisor.py.


# --- the autoscaler on one host (MiniCluster(autoscaling=...)) -----------------------------------

AUTOSCALING = {
    "cpu": {"resources": {"CPU": 1}, "max_workers": 2},
    "big-mem": {"resources": {"CPU": 1, "big_mem": 1}, "max_workers": 1},
}


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"autoscaling": {"cpu": {"max_workers": 2, "cpus": 1}}}, "'resources', 'min_workers'"),
        ({"autoscaling": {"CPU pool": {"max_workers": 1}}}, "lower-case letters"),
        ({"autoscaling": {"ray.head.default": {}}}, "the head's type"),
        ({"autoscaling": {"cpu": {"resources": {"CPU": 0.5}}}}, "'CPU' is a whole number"),
        ({"autoscaling": {"cpu": {"min_workers": 3, "max_workers": 1}}}, "above max_workers"),
        ({"autoscaling": {"cpu": {"max_workers": -1}}}, "max_workers=-1"),
        ({"autoscaling": {}}, "must map node type names"),
        ({"autoscaling": AUTOSCALING, "idle_timeout_s": 0}, "between 1 and 3600"),
        ({"autoscaling": {"cpu": {"max_workers": 1000}}}, "more than this host can carry"),
    ],
)
def test_bad_autoscaling_is_refused_before_anything_starts(kwargs, says):
    before = set(os.listdir(os.environ.get("RAY_TMPDIR", "/tmp")))
    with pytest.raises(ConfigError, match=re.escape(says)):
        MiniCluster(**kwargs)
    assert set(os.listdir(os.environ.get("RAY_TMPDIR", "/tmp"))) == before, "nothing started"


def test_node_history_reads_its_samples_as_a_hand_count_does():
    from raykit._autoscale import NodeHistory, NodeSample

    history = NodeHistory.__new__(NodeHistory)  # no thread: samples laid down by hand
    history.samples = [
        NodeSample(0.0, {}, 0),
        NodeSample(0.5, {}, 2),
        NodeSample(1.0, {"cpu": 1}, 1),
        NodeSample(1.5, {"cpu": 2}, 0),
        NodeSample(2.0, {"cpu": 2}, 0),
        NodeSample(2.5, {"cpu": 1, "big-mem": 1}, 0),
        NodeSample(3.0, {}, 0),
    ]
    assert history.most_workers == 2
    assert history.first(lambda s: s.worker_count > 0).at_s == 1.0
    assert history.last(lambda s: s.worker_count > 0).at_s == 2.5
    table = history.table()
    # One row per change: the 2.0 s sample repeats the 1.5 s one and is left out.
    assert list(table["seconds"]) == [0.0, 0.5, 1.0, 1.5, 2.5, 3.0]
    assert list(table["worker nodes"]) == [0, 0, 1, 2, 2, 0]
    assert list(table["waiting"]) == [0, 2, 1, 0, 0, 0]
    assert list(table["big-mem nodes"]) == [0, 0, 0, 0, 1, 0]


@pytest.mark.ray_cluster
def test_autoscaler_adds_nodes_under_load_removes_them_idle_and_leaves_nothing():
    """Ray's own autoscaler, fake multi-node provider: two 1-CPU tasks on a head with no CPU
    make it start two `cpu` nodes (not `big-mem`); idle, they go; close() ends everything."""
    import ray

    saved = os.environ.get("RAY_ADDRESS")
    mc = MiniCluster(num_cpus=0, autoscaling=AUTOSCALING, idle_timeout_s=3)
    try:
        os.environ["RAY_ADDRESS"] = mc.address
        raykit.init()
        history = mc.node_history(every_s=0.25)

        @ray.remote(num_cpus=1)
        def group(seconds):
            time.sleep(seconds)
            return ray.get_runtime_context().get_node_labels().get("ray.io/node-group")

        # Each task goes to a `cpu` node, never to `big-mem`, which it would also fit.
        assert ray.get([group.remote(2) for _ in range(2)], timeout=300) == ["cpu", "cpu"]
        raykit.wait_until(
            lambda: not any(n["alive"] for n in mc.autoscaled_nodes()),
            timeout_s=300,
            what="the idle nodes to go",
        )
        history.stop()
        started = mc.autoscaled_nodes()
        assert started and {n["node_type"] for n in started} == {"cpu"}
        # Each node the autoscaler started has the cluster's per-node store, not 30% of the RAM.
        from raykit._minicluster import DEFAULT_OBJECT_STORE

        assert {n["resources"]["object_store_memory"] for n in started} == {DEFAULT_OBJECT_STORE}
        # One node per task is what the autoscaler asks for; the first task may be done on the
        # first node before the second node is up, and a node that failed to start is replaced.
        assert 1 <= history.most_workers <= 2, "never more alive than max_workers"
        assert history.samples[-1].worker_count == 0
        # The line Ray's autoscaler writes as it decides, with the reason; its summary line
        # ("Removing 1 nodes of type cpu (idle).") comes an update later, under load after the
        # nodes are gone (2026-12-07). A node that failed to start goes with another reason.
        removed = [
            line for line in mc.autoscaler_log().splitlines() if "Terminating the node" in line
        ]
        assert removed and any(line.endswith("(idle)") for line in removed), removed
        # Every node the autoscaler started listens on loopback only, like the head.
        for proc in mc.processes():
            try:
                addresses = {c.laddr.ip for c in proc.net_connections() if c.status == "LISTEN"}
            except psutil.Error:
                continue
            assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}, (proc.cmdline(), addresses)
        raykit.shutdown()
    finally:
        if saved is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = saved
        mc.close()
    assert _mentioning(mc.root) == []
    assert not Path(mc.root).exists()


def test_node_history_needs_a_connected_driver():
    mc = MiniCluster.__new__(MiniCluster)  # never started: only the argument checks run
    mc.address = "127.0.0.1:1"
    mc._finalizer = type("Open", (), {"alive": True})()
    with pytest.raises(ConfigError, match="connect it first"):
        mc.node_history()


def test_a_head_on_the_users_gcs_port_gives_that_port_to_no_other_server(monkeypatch):
    # The user's port is free until the head binds it, so a pick could draw it for the head's
    # dashboard or agent, and `ray start` would refuse: with it the only candidate, never.
    gcs_port = _ports.free_port("")
    monkeypatch.setattr(_ports, "PICK_RANGE", range(gcs_port, gcs_port + 1))
    ports = MiniCluster._pick_ports(head=True, gcs_port=gcs_port)
    others = [port for name, port in ports.items() if name != "gcs"]
    assert ports["gcs"] == gcs_port and gcs_port not in others, ports
    assert len(set(others)) == len(others) == 8, ports
