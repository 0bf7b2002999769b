"""``raykit.init``/``shutdown`` against real Ray: idempotence, RAY_ADDRESS, auth, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import ray
from _tiers import starts_ray

import raykit
from raykit import ClusterUnreachable, ConfigError


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"num_cpus": 0}, "num_cpus=0"),
        ({"num_cpus": -2}, "num_cpus=-2"),
        ({"num_cpus": "two"}, "num_cpus='two' is not a number"),
        ({"num_cpus": 1.5}, "whole number"),
        ({"num_gpus": -1}, "num_gpus=-1"),
        ({"object_store_memory": -5}, "object_store_memory=-5"),
        ({"object_store_memory": "lots"}, "object_store_memory='lots' is not a size"),
        ({"object_store_memory": 100}, "counts bytes, not megabytes"),
        ({"resources": {"zone_a": "x"}}, "resources['zone_a']"),
        ({"num_cpu": 2}, "Did you mean num_cpus?"),
        ({"object_store_memory": "100TB"}, "more than this host's"),
    ],
)
def test_bad_input_names_the_argument_and_starts_nothing(kwargs, names):
    with pytest.raises(ConfigError, match=names.replace("(", r"\(").replace("[", r"\[")):
        raykit.init(**kwargs)
    assert not ray.is_initialized()


def test_unreachable_ray_address_fails_fast_and_names_it(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # nothing listens on port 1
    start = time.monotonic()
    with pytest.raises(ClusterUnreachable, match=r"RAY_ADDRESS='127.0.0.1:1'.*unset RAY_ADDRESS"):
        raykit.init()
    print(f"unreachable RAY_ADDRESS reported in {time.monotonic() - start:.2f} s")
    assert not ray.is_initialized()


def test_sizes_are_refused_when_connecting(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    with pytest.raises(ConfigError, match="num_cpus only size a cluster that raykit starts") as e:
        raykit.init(num_cpus=2)
    assert "own_cluster=True" in str(e.value), "the message names the way to keep the sizes"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"own_cluster": "yes"}, "own_cluster='yes' must be True or False"),
        ({"own_cluster": True, "address": "10.0.0.1:6379"}, "own_cluster=True starts a local"),
    ],
)
def test_own_cluster_bad_input_names_the_fix(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        raykit.init(**kwargs)
    assert not ray.is_initialized()


def test_http_address_gets_a_hint():
    with pytest.raises(ConfigError, match="GCS address"):
        raykit.init(address="http://127.0.0.1:8265")


@pytest.fixture(scope="module")
@starts_ray
def session():
    """One real local cluster for the tests below (Ray start-up costs about 10 s)."""
    os.environ.pop("RAY_ADDRESS", None)
    start = time.monotonic()
    ctx = raykit.init(num_cpus=2, object_store_memory="200MB")
    print(f"raykit.init() first start: {time.monotonic() - start:.1f} s")
    yield ctx
    raykit.shutdown()


def test_init_starts_a_local_cluster_with_the_sizes_asked(session):
    assert session.started_local
    assert ray.cluster_resources()["CPU"] == 2
    assert ray.cluster_resources()["object_store_memory"] == pytest.approx(200e6, rel=0.01)
    assert session.dashboard_link.startswith("http://127.0.0.1:")
    assert session.dashboard_link.endswith(session.dashboard_url.rsplit(":", 1)[1])


def test_init_again_returns_the_running_cluster_and_says_so(session, capsys):
    start = time.monotonic()
    again = raykit.init(num_cpus=1)
    print(f"raykit.init() reconnect: {(time.monotonic() - start) * 1000:.1f} ms")
    assert again is session
    out = capsys.readouterr().out
    assert "already running" in out and "ignoring num_cpus" in out


def test_token_auth_stays_on(session):
    from raykit._session import _token_auth_enabled

    assert os.environ.get("RAY_AUTH_MODE") != "disabled"
    assert _token_auth_enabled()


def test_session_card_holds_the_key_facts(session):
    html = session._repr_html_()
    assert session.dashboard_link in html and "CPU 2" in html and "Token auth" in html
    assert "started a local cluster" in repr(session)


def test_ray_address_connects_to_an_existing_cluster(session):
    """A second driver with RAY_ADDRESS joins the running cluster instead of starting one."""
    code = (
        "import raykit, ray\n"
        "s = raykit.init()\n"
        "print('started_local', s.started_local, 'cpus', ray.cluster_resources()['CPU'])\n"
        "raykit.shutdown()\n"
    )
    env = {**os.environ, "RAY_ADDRESS": session.address}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "started_local False cpus 2.0" in proc.stdout, proc.stderr[-2000:]
    assert "disconnected from Ray" in proc.stdout
    assert ray.is_initialized(), "the second driver's shutdown must not stop our cluster"


def test_own_cluster_starts_beside_ray_address_and_gives_it_back(session):
    """A lesson that needs its own shape (a 100 MB store, one CPU) under RAY_ADDRESS: a local
    cluster of that shape starts, RAY_ADDRESS names it (the `ray` CLI reaches it) until
    shutdown, then the user's address is back, and the user's cluster never noticed."""
    code = (
        "import os, subprocess, raykit, ray\n"
        "s = raykit.init(num_cpus=1, object_store_memory='100MB', own_cluster=True)\n"
        "print('started_local', s.started_local, 'cpus', ray.cluster_resources()['CPU'])\n"
        "print('store', ray.available_resources()['object_store_memory'] <= 100 * 2**20)\n"
        "print('points at own', os.environ['RAY_ADDRESS'] == s.address)\n"
        "status = subprocess.run(['ray', 'status'], capture_output=True, text=True).stdout\n"
        "print('cli sees 1 CPU', '0.0/1.0 CPU' in status)\n"
        "raykit.shutdown()\n"
        "print('given back', os.environ.get('RAY_ADDRESS'))\n"
    )
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "RAY_ADDRESS": session.address, "PATH": path}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    out = proc.stdout
    assert "started_local True cpus 1.0" in out, proc.stderr[-2000:]
    assert f"RAY_ADDRESS={session.address} is set" in out and "beside it" in out
    assert "store True" in out and "points at own True" in out and "cli sees 1 CPU" in out
    assert f"given back {session.address}" in out
    assert ray.cluster_resources()["CPU"] == 2, "the user's cluster is untouched"


def test_shutdown_is_safe_twice(capsys):
    raykit.shutdown()  # the module fixture's cluster, or nothing
    raykit.shutdown()
    assert not ray.is_initialized()


def test_init_with_a_ray_tmpdir_that_cannot_be_made_names_it_and_changes_nothing(tmp_path):
    (tmp_path / "a-file").write_text("")
    script = (
        "import os, raykit\n"
        "before = dict(os.environ)\n"
        "try:\n"
        "    raykit.init(num_cpus=1)\n"
        "except raykit.ConfigError as error:\n"
        "    print('ConfigError:', error)\n"
        "print('environment as before:', dict(os.environ) == before)\n"
    )
    env = {**os.environ, "RAY_TMPDIR": str(tmp_path / "a-file" / "ray")}
    env.pop("RAY_ADDRESS", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ConfigError: RAY_TMPDIR=" in out.stdout and "or unset it" in out.stdout, out.stdout
    assert "environment as before: True" in out.stdout, out.stdout
