"""Picking ports for the servers raykit starts: free, and away from the ports the OS hands out."""

from __future__ import annotations

import socket

import pytest

from raykit import _ports

RAY_WORKER_PORTS = range(10002, 20000)  # Ray 2.60's default min_worker_port..max_worker_port


def _listen(port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_picked_ports_are_free_and_outside_the_ephemeral_range_and_rays_worker_ports():
    ephemeral = _ports.ephemeral_ports()
    picked = [_ports.free_port() for _ in range(50)]
    assert not [p for p in picked if p in ephemeral or p in RAY_WORKER_PORTS], picked
    assert len(set(picked)) > 40, "random picks, not one port over and over"
    for port in picked[:5]:
        _listen(port).close()  # each one binds


def test_a_port_something_listens_on_is_skipped(monkeypatch):
    taken = _ports.free_port()
    with _listen(taken):
        monkeypatch.setattr(_ports, "PICK_RANGE", range(taken, taken + 1))
        assert _ports.free_port() != taken  # none left in the range: the OS picks
        # the only other candidate in range, once it is free
        monkeypatch.setattr(_ports, "PICK_RANGE", range(taken - 1, taken + 1))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", taken - 1))
            except OSError:
                pytest.skip(f"port {taken - 1} is in use on this host")
        assert _ports.free_port() == taken - 1


def test_where_the_ephemeral_range_covers_everything_the_os_picks(monkeypatch):
    monkeypatch.setattr(_ports, "ephemeral_ports", lambda: range(1024, 65536))
    port = _ports.free_port()
    assert 1024 <= port <= 65535
    _listen(port).close()


def test_the_ephemeral_range_is_read_from_the_host(tmp_path, monkeypatch):
    file = tmp_path / "ip_local_port_range"
    file.write_text("40000\t50000\n")
    monkeypatch.setattr(_ports, "_EPHEMERAL_FILE", file)
    assert _ports.ephemeral_ports() == range(40000, 50001)
    monkeypatch.setattr(_ports, "_EPHEMERAL_FILE", tmp_path / "missing")
    assert _ports.ephemeral_ports() == range(32768, 61000)  # Linux's default


def test_free_ports_are_different_free_and_outside_the_ephemeral_range():
    ephemeral = _ports.ephemeral_ports()
    ports = _ports.free_ports(12, "")  # as a MiniCluster node asks, on every interface
    assert len(set(ports)) == 12, "held until all are picked: never the same port twice"
    assert not [p for p in ports if p in ephemeral or p in RAY_WORKER_PORTS], ports
    for port in ports:
        _listen(port).close()


def test_free_ports_stay_different_when_the_range_is_tiny(monkeypatch):
    monkeypatch.setattr(_ports, "PICK_RANGE", range(21000, 21002))  # 2 candidates for 4 ports
    ports = _ports.free_ports(4)
    assert len(set(ports)) == 4, "the OS gives the ports the range cannot"


def test_a_port_to_avoid_is_never_picked_even_when_free(monkeypatch):
    # Ray's dashboard port is picked first and bound later, so it is free when the agent's port
    # is picked: without ``avoid`` the only candidate would be drawn twice (seen in CI).
    dashboard = _ports.free_port()
    monkeypatch.setattr(_ports, "PICK_RANGE", range(dashboard, dashboard + 1))
    assert _ports.free_port() == dashboard, "free, so the only candidate is drawn again"
    agent = _ports.free_port(avoid={dashboard})
    assert agent != dashboard  # none left in the range: the OS picks
    assert len(set(_ports.free_ports(3, avoid=[dashboard, agent]) + [dashboard, agent])) == 5
