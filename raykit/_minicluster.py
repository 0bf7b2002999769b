"""A real multi-node Ray cluster on one host (``MiniCluster``): nodes to schedule on and to kill."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from . import _host, _ray_private
from ._ports import free_port, require_free_port, wait_for_port
from ._supervisor import Supervisor, freeze_then_kill, kill, marked_processes, wait_gone
from .exceptions import ConfigError, RaykitError

# What one worker node costs before it runs any task: raylet, dashboard agent, runtime-env agent
# and a log monitor, measured at 300-500 MB here. The head adds the GCS and the dashboard.
MEMORY_PER_NODE = 500 * _host.MiB
MEMORY_FOR_HEAD = 1 * _host.GiB
# Above this many nodes per core, the nodes' own idle processes starve the tasks.
MAX_NODES_PER_CPU = 8
# Each node's object store, unless asked otherwise: small, so that many nodes fit in /dev/shm.
DEFAULT_OBJECT_STORE = 150 * _host.MiB
# Ray's defaults notice a dead node after 5 missed health checks 3 s apart. A lesson should not
# wait that long: the GCS here checks every second and gives up after 3 misses.
HEALTH_CHECK_ENV = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_initial_delay_ms": "1000",
}
# Every process a node starts directly inherits these in its environment; with their descendants
# (workers and agents, which overwrite their environment when they rename themselves) they are
# every process of a node. Set by MiniCluster, they are identity: nothing is found by its command
# line.
CLUSTER_MARKER = "RAYKIT_MINICLUSTER"
NODE_MARKER = "RAYKIT_MINICLUSTER_NODE"
# A raylet waits 15 s for its agents (Ray issue #65983); on a loaded host it can lose that race
# and exit. MiniCluster then starts the node again.
START_ATTEMPTS = 3
START_TIMEOUT_S = 180.0
_FATAL_LINE = re.compile(r"^\[[^\]]* C \d+ \d+\] .*$", re.MULTILINE)


@dataclass
class MiniNode:
    """One node of a :class:`MiniCluster`: a raylet with its own resources, ports and folder."""

    name: str
    temp_dir: str
    num_cpus: int
    resources: dict
    labels: dict
    object_store_memory: int
    ports: dict
    is_head: bool = False
    node_id: str = ""
    pids: set = field(default_factory=set)
    killed_at: float | None = None

    def processes(self) -> list[psutil.Process]:
        """The node's live processes: those that inherited its marker in their environment,
        and their descendants (agents and workers rename themselves)."""
        return _processes_of(NODE_MARKER, self.temp_dir)

    def raylet(self) -> psutil.Process | None:
        """The node's raylet process, or ``None`` once it is gone."""
        for proc in self.processes():
            if _is_raylet(proc):
                return proc
        return None

    @property
    def alive(self) -> bool:
        """Whether the node's raylet process is running."""
        return self.raylet() is not None

    def __repr__(self) -> str:
        extra = {**self.resources, **{f"label {k}": v for k, v in self.labels.items()}}
        extras = ", ".join(f"{k}={v}" for k, v in extra.items())
        state = "alive" if self.alive else "dead"
        return (
            f"MiniNode({self.name}, id {self.node_id[:8]}, {self.num_cpus} CPU"
            f"{', ' + extras if extras else ''}, {state})"
        )


class MiniCluster:
    """A real multi-node Ray cluster on this host: a head and worker nodes, each a raylet.

    Every node is a ``ray start`` of its own, with its own ports and its own folder under a
    private temp dir, so the cluster never collides with another Ray on the host. Connect a
    driver with ``raykit.init(address=mc.address)``. The cluster stops, and every process it
    started is killed, on :meth:`close`, at the end of a ``with`` block (also after an error),
    when the object is collected, when Python exits, and (through a small watchdog process,
    ``python -m raykit._watchdog``) when the notebook's kernel dies. Each process is recorded
    with its PID and creation time in ``<root>/processes.jsonl`` and checked before it is
    signalled, so a PID reused by an unrelated process is never killed. What the watchdog
    killed is logged to :attr:`watchdog_log` (``<root>.watchdog.log``, beside the folder).

    Parameters
    ----------
    num_cpus
        CPUs of the head node.
    resources
        Custom resources of the head node, such as ``{"on_demand": 1}``.
    labels
        Node labels of the head node, such as ``{"market": "on-demand"}``.
    workers
        Worker nodes to add at once, each with one CPU (more with :meth:`add_node`).
    object_store_memory
        Bytes of object store per node (default 150 MiB).
    gcs_fault_tolerance
        Back the GCS with a private ``redis-server`` so that :meth:`restart_gcs` keeps the
        cluster's state. Needs ``redis-server`` on the PATH.
    port
        The GCS port; ``None`` picks a free one. A port in use raises :class:`ConfigError`.
    token_auth
        ``None`` keeps Ray's default: token authentication on, with the token of
        ``~/.ray/auth_token`` (made if missing). Every node gets ``RAY_AUTH_MODE=token``, and so
        does this process, so that its driver authenticates when it connects.
    """

    def __init__(
        self,
        *,
        num_cpus: int = 1,
        resources: dict | None = None,
        labels: dict | None = None,
        workers: int = 0,
        object_store_memory: int = DEFAULT_OBJECT_STORE,
        gcs_fault_tolerance: bool = False,
        port: int | None = None,
        token_auth: bool | None = None,
    ):
        _check_node_args("MiniCluster", num_cpus, resources, labels, object_store_memory)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ConfigError(f"workers={workers!r} must be a whole number >= 0, e.g. workers=2.")
        _check_capacity(1 + workers, object_store_memory * (1 + workers), existing=0)
        if port is not None:
            require_free_port("port", port)
        self.redis_server = shutil.which("redis-server") if gcs_fault_tolerance else None
        if gcs_fault_tolerance and not self.redis_server:
            raise ConfigError(
                "gcs_fault_tolerance=True needs redis-server, which is not on the PATH. Install "
                "it (`apt-get install redis-server`, `brew install redis`) or pass "
                "gcs_fault_tolerance=False."
            )
        self.gcs_fault_tolerance = gcs_fault_tolerance
        self.root = tempfile.mkdtemp(prefix="mc", dir=os.environ.get("RAY_TMPDIR") or "/tmp")
        self.nodes: list[MiniNode] = []
        self.address = ""
        self.redis_address = ""
        self._sup = Supervisor(self.root, markers={CLUSTER_MARKER: self.root})
        self._finalizer = weakref.finalize(self, _cleanup, self._sup)
        try:
            self._env = self._child_env(token_auth)
            self._sup.spawn_watchdog()
            if gcs_fault_tolerance:
                self._start_redis()
            self._start_node("n00", num_cpus, resources, labels, object_store_memory, port=port)
            for _ in range(workers):
                self.add_node()
        except BaseException:  # KeyboardInterrupt too: never leave half a cluster behind
            self.close()
            raise

    # -- the public surface -------------------------------------------------------------------

    @property
    def head(self) -> MiniNode:
        """The head node (GCS, dashboard and a raylet)."""
        return self.nodes[0]

    @property
    def workers(self) -> list[MiniNode]:
        """The worker nodes, in the order they were added (dead ones included)."""
        return self.nodes[1:]

    def add_node(
        self,
        num_cpus: int = 1,
        resources: dict | None = None,
        labels: dict | None = None,
        object_store_memory: int = DEFAULT_OBJECT_STORE,
    ) -> MiniNode:
        """Start a worker node and wait until it has joined the cluster.

        Parameters
        ----------
        num_cpus
            The node's CPUs.
        resources
            Custom resources, such as ``{"gpu_sim": 1}`` or ``{"zone_a": 1}``.
        labels
            Node labels, such as ``{"zone": "a"}``: tasks select them with ``label_selector``.
        object_store_memory
            Bytes of object store on this node.

        Returns
        -------
        MiniNode
            The node, with its Ray node id, ports and the PIDs of its processes.
        """
        self._require_open()
        _check_node_args("add_node", num_cpus, resources, labels, object_store_memory)
        alive = [n for n in self.nodes if n.killed_at is None]
        _check_capacity(
            len(alive) + 1,
            sum(n.object_store_memory for n in alive) + object_store_memory,
            existing=len(alive),
        )
        name = f"n{len(self.nodes):02d}"
        return self._start_node(name, num_cpus, resources, labels, object_store_memory)

    def kill_node(self, node: MiniNode, *, wait: bool = True) -> float:
        """Kill a worker node at once, as when a machine vanishes: SIGSTOP, then SIGKILL.

        Parameters
        ----------
        node
            A worker node of this cluster (the head holds the GCS: see :meth:`restart_gcs`).
        wait
            Wait until the GCS reports the node dead (needs a driver connected with
            ``raykit.init(address=mc.address)``; skipped otherwise).

        Returns
        -------
        float
            Seconds from the kill until the GCS reported the node dead (until the processes
            were gone, when no driver is connected).
        """
        self._require_open()
        if node not in self.nodes:
            raise ConfigError(f"kill_node({node!r}): that node is not part of this cluster.")
        if node.is_head:
            raise ConfigError(
                "kill_node(mc.head) would take the GCS and this notebook's driver with it. Kill "
                "a worker node (mc.workers[0]), or restart the GCS with mc.restart_gcs()."
            )
        began = time.monotonic()
        victims = node.processes()
        freeze_then_kill(victims, first=_is_raylet)
        wait_gone(victims, timeout=10)
        node.killed_at = time.time()
        if wait:
            _wait_until_dead(node.node_id)
        return time.monotonic() - began

    def restart_gcs(self, *, down_s: float = 0.0) -> float:
        """Kill the GCS server with SIGKILL and start it again with the same command line.

        With ``gcs_fault_tolerance=True`` the new GCS reloads the cluster's state from Redis,
        and raylets, actors and drivers carry on.

        Parameters
        ----------
        down_s
            Seconds to leave the GCS down before restarting it.

        Returns
        -------
        float
            Seconds from the kill until the new GCS accepts connections again.
        """
        self._require_open()
        if not self.gcs_fault_tolerance:
            raise ConfigError(
                "restart_gcs() without fault tolerance would lose the cluster's state and take "
                "every node down. Create the cluster with MiniCluster(gcs_fault_tolerance=True)."
            )
        gcs = next((p for p in self.head.processes() if _is_gcs(p)), None)
        if gcs is None:
            raise RaykitError("the head's gcs_server process is not running.")
        cmdline, env, cwd = gcs.cmdline(), gcs.environ(), gcs.cwd()
        began = time.monotonic()
        kill([gcs])
        wait_gone([gcs], timeout=10)
        time.sleep(down_s)
        proc = self._sup.start(cmdline, what="gcs_server (restarted)", env=env, cwd=cwd)
        self.head.pids.add(proc.pid)
        host, port = self.address.rsplit(":", 1)
        wait_for_port(host, int(port), timeout=60, what="the restarted GCS")
        return time.monotonic() - began

    def name_of(self, node_id: str) -> str:
        """The MiniCluster name (``n00`` is the head) of a Ray node id (hex, or its start)."""
        for node in self.nodes:
            if node_id and node.node_id.startswith(node_id):
                return node.name
        return f"?{node_id[:8]}"

    def node(self, node_id: str) -> MiniNode:
        """The :class:`MiniNode` with this Ray node id (hex)."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise ConfigError(f"no node of this cluster has the id {node_id!r}.")

    @property
    def pids(self) -> set[int]:
        """Every PID this cluster recorded: nodes' processes, Redis, the watchdog."""
        return self._sup.pids

    def processes(self) -> list[psutil.Process]:
        """Every live process that belongs to this cluster: recorded ones (PID and creation
        time), those marked in their environment, and their descendants."""
        return self._sup.processes()

    @property
    def watchdog_log(self) -> Path:
        """Where the watchdog logs what it killed, if this process dies without closing the
        cluster: ``<root>.watchdog.log``, beside the cluster's folder (which is removed)."""
        return self._sup.watchdog_log

    def close(self) -> None:
        """Disconnect this process's driver if it is connected here, and kill every process
        the cluster started (SIGKILL, each checked by PID and creation time); safe to call
        twice."""
        if self.address:
            _disconnect_driver_from(self.address)
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return not self._finalizer.alive

    def __enter__(self) -> MiniCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "MiniCluster (closed)"
        lines = [f"MiniCluster at {self.address} ({self.root})"]
        if self.redis_address:
            lines.append(f"  GCS state in Redis at {self.redis_address}")
        for node in self.nodes:
            lines.append(f"  {node.name}{' (head)' if node.is_head else ''}: {node!r}")
        return "\n".join(lines)

    # -- starting things ----------------------------------------------------------------------

    def _child_env(self, token_auth: bool | None) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_TMPDIR")}
        env.update(HEALTH_CHECK_ENV)
        env[CLUSTER_MARKER] = self.root
        # Every node listens on 127.0.0.1; with this, drivers and jobs started on a node (a job's
        # `ray.init()`) keep that address instead of the host's (see raykit/_ray_private.py).
        env[_ray_private.SINGLE_HOST_ENV] = "0"
        if token_auth is False:
            env["RAY_AUTH_MODE"] = "disabled"
        else:
            # `ray start --address` does not turn token auth on by itself (only the head does, when
            # a token exists): every node, and this process's driver, must say so explicitly.
            _ray_private.ensure_token()
            env["RAY_AUTH_MODE"] = "token"
            if os.environ.get("RAY_AUTH_MODE") != "token":
                _ray_private.enable_token_auth_here()
        return env

    def _start_redis(self) -> None:
        port = free_port("")
        folder = Path(self.root, "redis")
        folder.mkdir()
        with open(folder / "redis.log", "wb") as log:
            self._sup.start(
                # State in memory only: the lesson restarts the GCS, not Redis.
                [self.redis_server, "--bind", "127.0.0.1", "--port", str(port)]
                + ["--dir", str(folder), "--save", "", "--appendonly", "no"],
                what="redis-server",
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port("127.0.0.1", port, timeout=30, what="redis-server")
        self.redis_address = f"127.0.0.1:{port}"

    def _start_node(self, name, num_cpus, resources, labels, store, *, port=None) -> MiniNode:
        head = name == "n00"
        ports = {
            "node_manager": free_port(""),
            "object_manager": free_port(""),
            "dashboard_agent_listen": free_port(""),
            "dashboard_agent_grpc": free_port(""),
            "runtime_env_agent": free_port(""),
            "metrics_export": free_port(""),
        }
        if head:
            ports.update(gcs=port or free_port(""), dashboard=free_port(""), client=free_port(""))
        node = MiniNode(
            name=name,
            temp_dir=os.path.join(self.root, name),
            num_cpus=num_cpus,
            resources=dict(resources or {}),
            labels=dict(labels or {}),
            object_store_memory=int(store),
            ports=ports,
            is_head=head,
        )
        self.nodes.append(node)
        # `ray start`, through a wrapper that keeps --node-ip-address=127.0.0.1 as given: Ray
        # would swap it for the host's network address, where every node would then listen.
        command = [sys.executable, "-m", "raykit._ray_start", *self._node_flags(node)]
        env = {**self._env, NODE_MARKER: node.temp_dir}
        if head and self.redis_address:
            env["RAY_REDIS_ADDRESS"] = self.redis_address
            env["RAY_external_storage_namespace"] = os.path.basename(self.root)
        for attempt in range(1, START_ATTEMPTS + 1):
            error = self._run_ray_start(node, command, env)
            if error is None:
                break
            kill(node.processes())  # what the failed attempt left behind
            if attempt == START_ATTEMPTS:
                self.nodes.remove(node)
                raise RaykitError(
                    f"node {name} did not start after {START_ATTEMPTS} attempts: {error}"
                )
        procs = node.processes()
        node.pids = {p.pid for p in procs}
        self._sup.record(procs, what=f"node {name}")
        raylet = node.raylet()
        match = re.search(r"--node_id=([0-9a-f]+)", " ".join(raylet.cmdline()) if raylet else "")
        node.node_id = match.group(1) if match else ""
        if head:
            address_file = Path(node.temp_dir, "ray_current_cluster")
            self.address = address_file.read_text().strip()
        return node

    def _node_flags(self, node: MiniNode) -> list[str]:
        p = node.ports
        flags = [
            f"--temp-dir={node.temp_dir}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={node.num_cpus}",
            "--num-gpus=0",
            f"--object-store-memory={node.object_store_memory}",
            f"--node-manager-port={p['node_manager']}",
            f"--object-manager-port={p['object_manager']}",
            f"--dashboard-agent-listen-port={p['dashboard_agent_listen']}",
            f"--dashboard-agent-grpc-port={p['dashboard_agent_grpc']}",
            f"--runtime-env-agent-port={p['runtime_env_agent']}",
            f"--metrics-export-port={p['metrics_export']}",
            # Port 0: each worker process gets a port from the OS, so no range can collide.
            "--min-worker-port=0",
            "--max-worker-port=0",
            "--disable-usage-stats",
        ]
        if node.resources:
            flags.append(f"--resources={json.dumps(node.resources)}")
        if node.labels:
            flags.append("--labels=" + ",".join(f"{k}={v}" for k, v in node.labels.items()))
        if node.is_head:
            flags += [
                "--head",
                f"--port={p['gcs']}",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={p['dashboard']}",
                f"--ray-client-server-port={p['client']}",
            ]
        else:
            flags.append(f"--address={self.address}")
        return flags

    def _run_ray_start(self, node: MiniNode, command: list[str], env: dict) -> str | None:
        """Run one ``ray start``; return None when the node is up, else why it is not."""
        log = Path(self.root, f"{node.name}-start.log")
        with open(log, "ab") as out:
            proc = self._sup.start(
                command,
                what=f"ray start {node.name}",
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        ports_written = False
        while proc.poll() is None:
            if not ports_written:
                ports_written = _write_agent_port_files(node)
            fatal = _raylet_fatal_line(node.temp_dir)
            if fatal or time.monotonic() > deadline:
                proc.kill()  # our unreaped child: its PID cannot have changed hands
                proc.wait()
                return fatal or f"`ray start` took over {START_TIMEOUT_S:.0f} s (log: {log})"
            time.sleep(0.5)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            return f"`ray start` exited with {proc.returncode}: {' '.join(tail)} (log: {log})"
        return None

    def _require_open(self) -> None:
        if self.closed:
            raise ConfigError("this MiniCluster is closed; create a new one.")


def _cleanup(sup: Supervisor) -> None:
    """Kill every process of the cluster (raylets first, so that no new worker starts)."""
    sup.close(first=_is_raylet)


# -- helpers ----------------------------------------------------------------------------------


def _processes_of(marker: str, folder: str) -> list[psutil.Process]:
    """Live processes whose environment has ``marker=folder``, and all their descendants."""
    return marked_processes({marker: folder})


def _is_raylet(proc: psutil.Process) -> bool:
    try:
        return os.path.basename((proc.cmdline() or [""])[0]) == "raylet"
    except psutil.Error:
        return False


def _is_gcs(proc: psutil.Process) -> bool:
    try:
        return os.path.basename((proc.cmdline() or [""])[0]) == "gcs_server"
    except psutil.Error:
        return False


def _write_agent_port_files(node: MiniNode) -> bool:
    """Tell the new raylet its agents' ports before the agents do; True once written.

    A raylet waits at most 15 s for its agents to write these files (Ray issue #65983) and
    exits if they are late, which on a loaded host they are. The ports are the ones MiniCluster
    passed on the command line, so writing them first changes nothing but the race.
    """
    raylet = next((p for p in node.processes() if _is_raylet(p)), None)
    if raylet is None:
        return False
    try:
        args = dict(a.split("=", 1) for a in raylet.cmdline()[1:] if "=" in a)
    except psutil.Error:
        return False
    node_id, session_dir = args.get("--node_id"), args.get("--session_dir")
    if not node_id or not session_dir:
        return False
    _ray_private.write_agent_port_files(session_dir, node_id, node.ports)
    return True


def _raylet_fatal_line(temp_dir: str) -> str | None:
    for log in Path(temp_dir).glob("session_*/logs/raylet.out"):
        try:
            match = _FATAL_LINE.search(log.read_text(errors="replace"))
        except OSError:
            continue
        if match:
            return match.group(0)[:300]
    return None


def _wait_until_dead(node_id: str, timeout: float = 60) -> None:
    import ray

    if not ray.is_initialized() or not node_id:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(n["NodeID"] == node_id and not n["Alive"] for n in ray.nodes()):
            return
        time.sleep(0.1)
    raise RaykitError(f"the GCS did not report node {node_id[:8]} dead within {timeout:.0f} s.")


def _disconnect_driver_from(address: str) -> None:
    import ray

    if not ray.is_initialized():
        return
    try:
        connected = ray.get_runtime_context().gcs_address
    except Exception:  # a half-torn-down driver: disconnect anyway
        connected = address
    if connected.rsplit(":", 1)[-1] == address.rsplit(":", 1)[-1]:
        from ._session import shutdown

        shutdown()


def _check_node_args(where, num_cpus, resources, labels, store) -> None:
    if isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 0:
        raise ConfigError(f"{where}: num_cpus={num_cpus!r} must be a whole number >= 0.")
    if resources is not None and (
        not isinstance(resources, dict)
        or not all(isinstance(v, int | float) and v >= 0 for v in resources.values())
    ):
        raise ConfigError(f"{where}: resources={resources!r} must be a dict like {{'zone_a': 1}}.")
    if labels is not None and (
        not isinstance(labels, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
        or any("," in k + v or "=" in k + v for k, v in labels.items())
    ):
        raise ConfigError(
            f"{where}: labels={labels!r} must map strings to strings (no ',' or '='), "
            "e.g. {'zone': 'a'}."
        )
    if isinstance(store, bool) or not isinstance(store, int) or store < _host.OBJECT_STORE_MINIMUM:
        raise ConfigError(
            f"{where}: object_store_memory={store!r} must be a number of bytes of at least "
            f"75 MiB, e.g. object_store_memory={DEFAULT_OBJECT_STORE}."
        )


def _check_capacity(nodes: int, store_bytes: int, *, existing: int) -> None:
    """Refuse a cluster this host cannot carry, before starting any process of it."""
    host = _host.HostFacts.detect()
    need = MEMORY_FOR_HEAD + (nodes - 1) * MEMORY_PER_NODE + store_bytes
    budget = host.memory_bytes // 2  # the other half stays for tasks, the notebook, the system
    max_nodes = host.cpus * MAX_NODES_PER_CPU
    if need > budget or nodes > max_nodes:
        asked = nodes - existing
        fits = min(
            max_nodes,
            1
            + max(0, (budget - MEMORY_FOR_HEAD - DEFAULT_OBJECT_STORE))
            // (MEMORY_PER_NODE + DEFAULT_OBJECT_STORE),
        )
        raise ConfigError(
            f"{nodes} nodes ({asked} more) are more than this host can carry: each node costs "
            f"about {_host.fmt_bytes(MEMORY_PER_NODE)} of RAM plus its object store, and "
            f"{_host.fmt_bytes(need)} is over half of the {_host.fmt_bytes(host.memory_bytes)} "
            f"of RAM, or more than {MAX_NODES_PER_CPU} nodes per CPU ({host.cpus} CPUs). "
            f"At most {fits} nodes fit here: ask for fewer workers."
        )
