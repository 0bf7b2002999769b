"""TCP ports for the servers raykit starts: pick a free one, check one, wait for one to answer."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from .exceptions import ConfigError, RaykitError

# Ports are picked here, not by the OS (bind to port 0): the OS hands out its ephemeral range,
# the same ports every outgoing connection on the host draws from, so on a busy host (many
# clusters, kernels, Dask and Celery clients, CI) a port found free is often taken before the
# server binds it (seen: a kernel's ZMQ port, Serve's proxy, Ray's dashboard). Above Ray's worker
# ports (10002-19999) and below Linux's ephemeral range, only servers told a port use one, and a
# random pick makes two pickers at once unlikely to meet.
PICK_RANGE = range(20000, 32768)
PICK_TRIES = 64
_EPHEMERAL_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_ports() -> range:
    """The host's ephemeral port range (Linux's default where it cannot be read)."""
    try:
        low, high = (int(word) for word in _EPHEMERAL_FILE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(host: str = "127.0.0.1", avoid: Iterable[int] = ()) -> int:
    """A TCP port nothing listens on right now on ``host`` ("" for every interface), outside
    the host's ephemeral range and Ray's worker ports where one is free there, and none of
    ``avoid``: ports picked earlier for the same cluster but not bound yet."""
    return free_ports(1, host, avoid)[0]


def free_ports(count: int, host: str = "127.0.0.1", avoid: Iterable[int] = ()) -> list[int]:
    """``count`` different TCP ports free on ``host`` right now, none of ``avoid``, picked as
    :func:`free_port` does. The sockets stay bound until all are picked, so no two picks can be
    the same port (one node's servers); a random pick can repeat once its socket is closed,
    which is what ``avoid`` is for (seen: Ray's dashboard and its agent drew one port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ephemeral = ephemeral_ports()
    avoid = set(avoid)
    candidates = [port for port in PICK_RANGE if port not in ephemeral and port not in avoid]
    # SystemRandom: forked processes (Ray workers, pools) do not share one sequence.
    tries = random.SystemRandom().sample(candidates, min(PICK_TRIES * count, len(candidates)))
    held: list[socket.socket] = []
    refused: list[socket.socket] = []  # OS picks in ``avoid``: held, so the OS moves on
    try:
        while len(held) < count:
            port = tries.pop() if tries else 0  # 0: the OS picks, once the range has none free
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                if port == 0:
                    raise
                continue
            (refused if sock.getsockname()[1] in avoid else held).append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held + refused:
            sock.close()


def require_free_port(name: str, port: int) -> None:
    """Raise ConfigError naming ``name`` unless ``port`` is a user port free on every interface."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise ConfigError(f"{name}={port!r} must be a port number from 1024 to 65535.")
    with socket.socket() as sock:
        try:
            sock.bind(("", port))
        except OSError:
            raise ConfigError(
                f"{name}={port} is already in use on this host (another Ray cluster or server "
                f"listens there). Pass another port, or leave {name}=None to pick a free one."
            ) from None


def wait_for_port(host: str, port: int, *, timeout: float, what: str) -> None:
    """Return once ``host:port`` accepts a connection; RaykitError naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RaykitError(f"{what} did not accept connections on {host}:{port}") from None
            time.sleep(0.05)
