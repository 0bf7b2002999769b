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
    with pytest.raises(ConfigError, match="num_cpus only size a cluster that raykit starts"):
        raykit.init(num_cpus=2)


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


def test_shutdown_is_safe_twice(capsys):
    raykit.shutdown()  # the module fixture's cluster, or nothing
    raykit.shutdown()
    assert not ray.is_initialized()
