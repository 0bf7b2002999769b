"""Sizing a local cluster for a host, and the proxy-aware dashboard link: pure arithmetic."""

from __future__ import annotations

import pytest

from raykit._dashboard import dashboard_link
from raykit._host import GiB, HostFacts, MiB, plan_local_cluster


def test_roomy_host_gets_all_cpus_and_30_percent_of_ram_in_shm():
    plan = plan_local_cluster(
        HostFacts(cpus=8, memory_bytes=32 * GiB, shm_bytes=16 * GiB, shm_free_bytes=16 * GiB)
    )
    assert plan.num_cpus == 8
    assert plan.object_store_memory == int(32 * GiB * 0.3)
    assert plan.plasma_directory is None
    assert any("30% of 32 GiB" in r for r in plan.reasons)


def test_docker_sized_shm_moves_the_store_to_tmp_and_says_why():
    # Binder and Docker: 2 GB of RAM, 64 MB of /dev/shm, many CPUs visible.
    plan = plan_local_cluster(
        HostFacts(cpus=8, memory_bytes=2 * GiB, shm_bytes=64 * MiB, shm_free_bytes=64 * MiB)
    )
    assert plan.plasma_directory == "/tmp"
    assert plan.init_kwargs()["_plasma_directory"] == "/tmp"
    assert plan.object_store_memory == int(2 * GiB * 0.3)
    assert any("--shm-size" in r for r in plan.reasons)
    # 2 GiB - 614 MiB store - 1 GiB head leaves room for one 400 MiB worker, not eight.
    assert plan.num_cpus == 1
    assert any("1 of 8 CPUs" in r for r in plan.reasons)


def test_mid_sized_shm_shrinks_the_store_to_fit():
    plan = plan_local_cluster(
        HostFacts(cpus=4, memory_bytes=16 * GiB, shm_bytes=1 * GiB, shm_free_bytes=1 * GiB)
    )
    assert plan.plasma_directory is None
    assert plan.object_store_memory == int(1 * GiB * 0.8)


def test_explicit_sizes_win():
    plan = plan_local_cluster(
        HostFacts(2, 8 * GiB, 4 * GiB, 4 * GiB), num_cpus=6, object_store_memory=500 * MiB
    )
    assert (plan.num_cpus, plan.object_store_memory) == (6, 500 * MiB)
    assert any("as you asked" in r for r in plan.reasons)


def test_detect_reads_this_host():
    host = HostFacts.detect()
    assert host.cpus >= 1 and host.memory_bytes > 256 * MiB


@pytest.mark.parametrize(
    "webui, env, expected",
    [
        ("127.0.0.1:8265", {}, "http://127.0.0.1:8265"),
        ("127.0.0.1:8266", {"JUPYTERHUB_SERVICE_PREFIX": "/user/ada/"}, "/user/ada/proxy/8266/"),
        ("localhost:9000", {"JUPYTERHUB_SERVICE_PREFIX": "/user/x"}, "/user/x/proxy/9000/"),
        # A remote head's dashboard is not behind this server's proxy: link it directly.
        ("10.0.0.5:8265", {"JUPYTERHUB_SERVICE_PREFIX": "/user/x/"}, "http://10.0.0.5:8265"),
        (None, {}, None),
    ],
)
def test_dashboard_link(webui, env, expected):
    assert dashboard_link(webui, env) == expected


# -- the user's share on a shared host ---------------------------------------------------------


def _shared(**kw):
    base = dict(cpus=4, memory_bytes=64 * GiB, shm_bytes=32 * GiB, shm_free_bytes=32 * GiB)
    return HostFacts(**{**base, **kw})


def test_the_users_cgroup_limit_decides_when_it_is_the_smallest():
    plan = plan_local_cluster(_shared(cgroup_limit_bytes=8 * GiB, available_bytes=60 * GiB))
    assert plan.object_store_memory == int(8 * GiB * 0.3)
    assert any("30% of your cgroup's limit of 8.0 GiB" in r for r in plan.reasons), plan.reasons


def test_memory_in_use_by_others_decides_when_little_is_available():
    plan = plan_local_cluster(_shared(cgroup_limit_bytes=32 * GiB, available_bytes=10 * GiB))
    assert plan.object_store_memory == int(10 * GiB * 0.3)
    assert any("10 GiB available now" in r for r in plan.reasons), plan.reasons


def test_other_ray_clusters_stores_are_subtracted_from_what_is_available():
    host = _shared(available_bytes=40 * GiB, other_clusters_store_bytes=30 * GiB, other_clusters=2)
    share, why = host.memory_share()
    assert share == 10 * GiB
    assert "less 30 GiB reserved by 2 other Ray cluster(s)" in why
    assert plan_local_cluster(host).object_store_memory == int(10 * GiB * 0.3)


def test_ram_decides_on_an_idle_host_and_the_reason_says_so():
    share, why = _shared(available_bytes=None).memory_share()
    assert (share, why) == (64 * GiB, "64 GiB RAM")


def test_cpus_are_limited_by_the_share_not_the_hosts_ram():
    # 4 GiB share: 1.2 GiB store + 1 GiB head leaves 1.8 GiB, room for 4 workers of 400 MiB.
    plan = plan_local_cluster(_shared(cpus=16, cgroup_limit_bytes=4 * GiB))
    assert plan.num_cpus == (4 * GiB - int(4 * GiB * 0.3) - GiB) // (400 * MiB)


def test_a_share_under_the_store_minimum_still_gets_a_working_store():
    plan = plan_local_cluster(_shared(available_bytes=100 * MiB, other_clusters_store_bytes=GiB))
    assert plan.object_store_memory >= 75 * MiB


def test_detect_reads_other_clusters_from_raylet_command_lines():
    from raykit._host import other_ray_object_stores

    stores = other_ray_object_stores()
    host = HostFacts.detect()
    assert host.other_clusters == len(stores)
    assert host.other_clusters_store_bytes == sum(stores.values())


# --- starts take turns on one host --------------------------------------------------------------

_HOLD = """
import sys, time
from pathlib import Path
from raykit._host import startup_turn
with startup_turn(lock_path=Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(lock, seconds):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(lock), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_start_waits_for_the_start_already_under_way_and_says_so(tmp_path):
    from raykit._host import startup_turn

    lock = tmp_path / "start.lock"
    holder = _holder(lock, 1.5)
    said = []
    with startup_turn(say=said.append, lock_path=lock):
        # Our turn comes only once the other start is over.
        assert holder.poll() is not None or holder.wait(timeout=1) == 0
    assert said == ["another Ray cluster is starting on this host; waiting for its turn."]


def test_a_start_that_died_holding_its_turn_does_not_block_the_next(tmp_path):
    from raykit._host import startup_turn

    lock = tmp_path / "start.lock"
    holder = _holder(lock, 600)
    holder.kill()  # SIGKILL: no clean-up ran; the kernel drops its lock with the process
    holder.wait()
    said = []
    with startup_turn(say=said.append, lock_path=lock, wait_s=600):
        pass
    assert said == []


def test_a_turn_that_never_comes_is_not_waited_for_forever(tmp_path):
    from raykit._host import startup_turn

    lock = tmp_path / "start.lock"
    holder = _holder(lock, 600)
    try:
        with startup_turn(lock_path=lock, wait_s=0.5):
            assert holder.poll() is None, "we went ahead while the other start still holds it"
    finally:
        holder.kill()
        holder.wait()
