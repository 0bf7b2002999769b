"""TCP ports for the servers raykit starts: pick a free one, check one, wait for one to answer."""

from __future__ import annotations

import socket
import time

from .exceptions import ConfigError, RaykitError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now on ``host`` ("" for every interface)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different TCP ports free on ``host`` right now: the sockets stay bound until
    all are picked, so no two picks can be the same port (one process's servers, as a node's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = [socket.socket(family, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
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
