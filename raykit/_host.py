"""What this host offers (CPUs, RAM, /dev/shm, GPUs) and how a local Ray cluster is sized to it."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1024**2
GiB = 1024**3

# Ray's own default: the object store takes 30% of the host's memory.
OBJECT_STORE_SHARE = 0.30
# Ray refuses an object store smaller than this (ray_constants.OBJECT_STORE_MINIMUM_MEMORY_BYTES).
OBJECT_STORE_MINIMUM = 75 * MiB
# Below this, /dev/shm is a container default (Docker and Binder give 64 MB), not a real budget.
SHM_TOO_SMALL = 512 * MiB
# What a Ray worker process costs before it does any work (Python, Ray, pandas imported).
MEMORY_PER_WORKER = 400 * MiB
# The head's own processes: GCS, raylet, dashboard and its agents.
MEMORY_FOR_HEAD = 1 * GiB


@dataclass(frozen=True)
class HostFacts:
    """What this host offers to a local Ray cluster, and how much of it is this user's share.

    ``memory_bytes`` is the machine's RAM. On a shared host (JupyterHub, a lab server, CI) the
    user's share is smaller: the memory limit of the user's cgroup, what is actually available
    now, less what other Ray clusters here have already reserved for their object stores.
    """

    cpus: int
    memory_bytes: int
    shm_bytes: int
    shm_free_bytes: int
    gpus: int = 0
    cgroup_limit_bytes: int | None = None
    available_bytes: int | None = None
    other_clusters_store_bytes: int = 0
    other_clusters: int = 0

    @classmethod
    def detect(cls) -> HostFacts:
        """Read the facts of this host, honouring CPU affinity and cgroup (container) limits."""
        import psutil

        shm = _statvfs_bytes("/dev/shm")
        others = other_ray_object_stores()
        return cls(
            cpus=_cpu_count(),
            memory_bytes=psutil.virtual_memory().total,
            shm_bytes=shm[0],
            shm_free_bytes=shm[1],
            gpus=_gpu_count(),
            cgroup_limit_bytes=_cgroup_memory_limit(),
            available_bytes=_available_bytes(),
            other_clusters_store_bytes=sum(others.values()),
            other_clusters=len(others),
        )

    def memory_share(self) -> tuple[int, str]:
        """The memory a new local cluster may plan with, and a sentence saying what decided it."""
        fmt = fmt_bytes
        limits = [(self.memory_bytes, f"{fmt(self.memory_bytes)} RAM")]
        if self.cgroup_limit_bytes is not None and self.cgroup_limit_bytes < self.memory_bytes:
            text = f"your cgroup's limit of {fmt(self.cgroup_limit_bytes)}"
            limits.append((self.cgroup_limit_bytes, text))
        if self.available_bytes is not None:
            free = self.available_bytes - self.other_clusters_store_bytes
            text = f"{fmt(self.available_bytes)} available now"
            if self.other_clusters:
                text += (
                    f" less {fmt(self.other_clusters_store_bytes)} reserved by "
                    f"{self.other_clusters} other Ray cluster(s) on this host"
                )
            limits.append((max(free, OBJECT_STORE_MINIMUM), text))
        share, why = min(limits, key=lambda item: item[0])
        return int(share), why


@dataclass(frozen=True)
class ClusterPlan:
    """The size chosen for a local cluster, with a sentence for each choice."""

    num_cpus: int
    object_store_memory: int
    plasma_directory: str | None = None
    reasons: list[str] = field(default_factory=list)

    def init_kwargs(self) -> dict:
        """Return the keyword arguments for ``ray.init`` that carry this plan."""
        kwargs = {"num_cpus": self.num_cpus, "object_store_memory": self.object_store_memory}
        if self.plasma_directory:
            kwargs["_plasma_directory"] = self.plasma_directory
        return kwargs


def plan_local_cluster(
    host: HostFacts, num_cpus: int | None = None, object_store_memory: int | None = None
) -> ClusterPlan:
    """Size a local cluster for ``host``; explicit ``num_cpus``/``object_store_memory`` win."""
    reasons = []
    plasma_directory = None

    share, why = host.memory_share()
    if object_store_memory is not None:
        store = object_store_memory
        reasons.append(f"object store {fmt_bytes(store)}, as you asked")
    else:
        store = max(int(share * OBJECT_STORE_SHARE), OBJECT_STORE_MINIMUM)
        reasons.append(f"object store {fmt_bytes(store)}: 30% of {why}")

    if host.shm_free_bytes < store:
        if host.shm_free_bytes >= SHM_TOO_SMALL and object_store_memory is None:
            store = max(int(host.shm_free_bytes * 0.8), OBJECT_STORE_MINIMUM)
            reasons.append(
                f"shrunk to {fmt_bytes(store)} to fit /dev/shm "
                f"({fmt_bytes(host.shm_free_bytes)} free), where objects are shared zero-copy"
            )
        else:
            plasma_directory = "/tmp"
            reasons.append(
                f"/dev/shm has only {fmt_bytes(host.shm_free_bytes)} free, so the store lives in "
                "/tmp: it works, more slowly (in Docker, `--shm-size=2g` fixes it)"
            )

    if num_cpus is not None:
        cpus = num_cpus
        reasons.append(f"{cpus} CPUs, as you asked")
    else:
        headroom = share - store - MEMORY_FOR_HEAD
        by_memory = max(1, headroom // MEMORY_PER_WORKER)
        cpus = max(1, min(host.cpus, by_memory))
        if cpus < host.cpus:
            reasons.append(
                f"{cpus} of {host.cpus} CPUs: each worker process needs about "
                f"{fmt_bytes(MEMORY_PER_WORKER)} and only {fmt_bytes(max(headroom, 0))} is left "
                "beside the object store and the head's processes"
            )
        else:
            reasons.append(f"{cpus} CPUs: all this host offers")
    return ClusterPlan(int(cpus), int(store), plasma_directory, reasons)


def fmt_bytes(n: float) -> str:
    """Format a byte count for people: ``1.5 GiB``, ``64 MiB``."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(n)} B"


def _cpu_count() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus or 1)


def _cgroup_cpu_quota() -> float | None:
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        if v1.exists():
            quota = int(v1.read_text())
            period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
            return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        pass
    return None


def _own_cgroup_dirs(controller: str | None = None) -> list[Path]:
    """This process's cgroup folder and its ancestors, innermost first (v2, or the v1
    ``controller``'s hierarchy); JupyterHub and systemd put each user in a cgroup of their own,
    whose limit can sit anywhere on that path. Folders that do not exist are left out."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    prefix = f":{controller}:" if controller else "0::"
    rel = next((line.split(":", 2)[2] for line in lines if prefix in line), None)
    if rel is None:
        return []
    root = Path("/sys/fs/cgroup", controller) if controller else Path("/sys/fs/cgroup")
    folder = root / rel.lstrip("/")
    chain = [folder, *folder.parents][: len(folder.relative_to(root).parts) + 1]
    return [f for f in chain if f.is_dir()] or ([root] if root.is_dir() else [])


def _cgroup_memory_limit() -> int | None:
    """The tightest memory limit on this process's cgroup path (v2), or the v1 limit."""
    limits = []
    for folder in _own_cgroup_dirs():
        text = _read(folder / "memory.max")
        if text and text.isdigit():
            limits.append(int(text))
    for folder in _own_cgroup_dirs(controller="memory"):
        v1 = _read(folder / "memory.limit_in_bytes")
        if v1 and v1.isdigit() and int(v1) < 2**60:  # v1 says "no limit" with a huge number
            limits.append(int(v1))
    return min(limits) if limits else None


def _available_bytes() -> int:
    """Memory available now: the kernel's MemAvailable, or what the cgroup has left if less."""
    import psutil

    available = psutil.virtual_memory().available
    for folder in _own_cgroup_dirs():
        limit, used = _read(folder / "memory.max"), _read(folder / "memory.current")
        if limit and limit.isdigit() and used and used.isdigit():
            available = min(available, max(0, int(limit) - int(used)))
    return available


def other_ray_object_stores() -> dict[int, int]:
    """``{raylet pid: object store bytes}`` of the Ray nodes already running on this host."""
    import psutil

    stores = {}
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if not cmdline or os.path.basename(cmdline[0]) != "raylet":
            continue
        for arg in cmdline[1:]:
            if arg.startswith("--object_store_memory="):
                value = arg.split("=", 1)[1]
                if value.isdigit():
                    stores[proc.pid] = int(value)
    return stores


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _statvfs_bytes(path: str) -> tuple[int, int]:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0, 0
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def _gpu_count() -> int:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


# Ray gives a new node's raylet 30 s to register (hard-coded in ray/_private/node.py). Several
# clusters starting at once on a small host (a workshop's learners pressing Run All together, a
# CI runner's parallel jobs) each need seconds of CPU to import Ray in a dozen processes, and all
# of them miss it. Starts take turns instead: one at a time per host, through a file lock the
# kernel releases when its holder exits, so a crashed start never blocks the next one.
STARTUP_LOCK = Path(os.environ.get("TMPDIR", "/tmp")) / "raykit-ray-start.lock"
STARTUP_WAIT_S = 180.0


@contextlib.contextmanager
def startup_turn(say=None, wait_s: float = STARTUP_WAIT_S, lock_path: Path | None = None):
    """Hold the host's Ray start-up lock while the block starts Ray; wait for it at most
    ``wait_s`` (then start anyway). ``say`` is called once with a line when we have to wait."""
    import fcntl

    try:
        fd = os.open(lock_path or STARTUP_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # an unwritable /tmp: start without taking turns
        yield
        return
    try:
        with contextlib.suppress(OSError):  # the creator lets other users take turns too
            os.fchmod(fd, 0o666)
        deadline = time.monotonic() + wait_s
        held = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                if say is not None:
                    say("another Ray cluster is starting on this host; waiting for its turn.")
                    say = None
                time.sleep(0.2)
        yield
    finally:
        if held:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
