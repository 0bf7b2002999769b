"""Which sockets the Ray processes on this host listen on, and which of them the network reaches."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

import psutil

# Executables and process titles of Ray's own processes (workers and agents rename themselves).
_RAY_NAMES = ("gcs_server", "raylet", "plasma_store")
_RAY_TITLES = ("ray::", "ray_")


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket: who owns it and where it listens."""

    pid: int
    process: str
    ip: str
    port: int
    started: float = field(default=0.0, compare=False)  # the process's creation time

    @property
    def loopback(self) -> bool:
        """Whether only this host can connect (127.0.0.0/8, ::1, or IPv4-mapped 127.x)."""
        return is_loopback(self.ip)

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.process} (pid {self.pid}) on {host}:{self.port}"


def is_loopback(ip: str) -> bool:
    """Whether ``ip`` is a loopback address; ``0.0.0.0`` and ``::`` (every interface) are not."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def listeners(processes) -> list[Listener]:
    """The listening TCP sockets of ``processes`` (psutil Process objects), in the order their
    processes started: a cluster's GCS and raylet first, then its agents and workers. Not by PID:
    PIDs wrap around on a busy host (at 32768 by default), and a worker started after the GCS can
    then have the lower PID, which pushed the GCS out of the doctor's first six."""
    found = set()
    for proc in processes:
        try:
            name, started = _title(proc), proc.create_time()
            for conn in proc.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    found.add(Listener(proc.pid, name, conn.laddr.ip, conn.laddr.port, started))
        except psutil.Error:
            continue
    return sorted(found, key=lambda item: (item.started, item.pid, item.port, item.ip))


def exposed(processes) -> list[Listener]:
    """The listening sockets of ``processes`` that other machines could connect to."""
    return [item for item in listeners(processes) if not item.loopback]


def my_ray_processes() -> list[psutil.Process]:
    """This user's Ray processes on this host: GCS, raylets, agents, workers, dashboards."""
    uid = os.getuid()
    found = []
    for proc in psutil.process_iter(["uids", "cmdline"]):
        try:
            if proc.info["uids"] is None or proc.info["uids"].real != uid:
                continue
            cmdline = proc.info["cmdline"] or []
        except psutil.Error:
            continue
        if cmdline and _is_ray(cmdline):
            found.append(proc)
    return found


def is_ray_process(proc: psutil.Process) -> bool:
    """Whether ``proc`` is one of Ray's own processes (by its executable or process title)."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return False
    return bool(cmdline) and _is_ray(cmdline)


def _is_ray(cmdline: list[str]) -> bool:
    first = os.path.basename(cmdline[0])
    joined = " ".join(cmdline[:3])
    return (
        first in _RAY_NAMES
        or cmdline[0].startswith(_RAY_TITLES)
        or "ray/dashboard/" in joined
        or "ray/_private/" in joined
        or "ray/autoscaler/" in joined
    )


def _title(proc: psutil.Process) -> str:
    cmdline = proc.cmdline() or [proc.name()]
    first = cmdline[0]
    if first.startswith(_RAY_TITLES):
        return first.split()[0]
    script = next((a for a in cmdline[1:3] if a.endswith(".py")), None)
    return os.path.basename(script or first)
