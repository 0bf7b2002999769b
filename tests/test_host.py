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
