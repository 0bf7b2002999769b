"""A real multi-node Ray cluster on one host (``MiniCluster``): nodes to schedule on and to kill."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from . import _host, _ray_private, _timing
from ._autoscale import NODE_GROUP_LABEL
from ._ports import free_port, free_ports, require_free_port, wait_for_port
from ._session import made_ray_tmpdir, state_api_address
from ._supervisor import Supervisor, freeze_then_kill, kill, marked_processes, wait_gone
from ._wait import wait_until
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
# What each process of a node is, by how it names itself: Ray's agents and workers rename
# themselves (``ray::...``); the other processes are a binary or a Python script of Ray's.
_RENAMED = {"ray::DashboardAgent": "dashboard agent", "ray::RuntimeEnvAgent": "runtime-env agent"}
_SCRIPTS = {
    "dashboard.py": "dashboard",
    "agent.py": "dashboard agent",
    "main.py": "runtime-env agent",
    "log_monitor.py": "log monitor",
    "monitor.py": "autoscaler monitor",
    "default_worker.py": "worker (starting)",
}
# The head of an autoscaling MiniCluster runs Ray's autoscaler with its fake multi-node provider,
# which starts worker nodes on this host as the autoscaler asks (in the autoscaler's process, so
# they inherit this environment and the cluster's marker). It looks again every second (Ray's
# default is 5 s), and a raylet it starts waits up to 2 min for its agents rather than 15 s: the
# provider does not retry a node whose raylet gave up on a loaded host (Ray issue #65983).
AUTOSCALER_ENV = {
    "RAY_FAKE_CLUSTER": "1",
    "AUTOSCALER_UPDATE_INTERVAL_S": "1",
    "RAY_agent_register_timeout_ms": "120000",
}
# The head's node type in the autoscaler's config: the provider's own name for it.
FAKE_HEAD_TYPE = "ray.head.default"
# Task states after which an attempt changes no more.
_DONE = ("FINISHED", "FAILED")
# The width the shell commands of :attr:`MiniNode.start_command` are wrapped at.
_COMMAND_WIDTH = 96


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
    start_flags: list = field(default_factory=list)
    start_env: dict = field(default_factory=dict)

    @property
    def start_command(self) -> str:
        """The ``ray start`` command this node ran, as a shell command (wrapped with ``\\``).

        The flags are the ones passed to ``ray start``; the variables in front are those
        MiniCluster set for the node that change what Ray does (token authentication, the GCS's
        health checks and its Redis, on the head). MiniCluster runs the command through
        ``python -m raykit._ray_start``, which keeps ``--node-ip-address=127.0.0.1`` as given:
        a plain ``ray start`` would replace it with the host's network address.
        """
        env = [f"{k}={shlex.quote(v)}" for k, v in self.start_env.items()]
        flags = [shlex.quote(f) for f in self.start_flags]
        return " \\\n".join(_wrap(env, indent="") + _wrap(["ray", "start", *flags], indent="    "))

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
    autoscaling
        Worker node types for Ray's autoscaler, ``{name: {"resources": {"CPU": 1, ...},
        "min_workers": 0, "max_workers": 2}}``. The head then runs Ray's autoscaler with its
        fake multi-node provider (the one ``ray.cluster_utils.AutoscalingCluster`` uses, without
        that helper's ``ray stop --force``): pending work makes it start worker nodes of these
        types on this host, and it removes them after ``idle_timeout_s`` without work. Their
        processes belong to this cluster and end with it. See :meth:`autoscaled_nodes`.
    idle_timeout_s
        With ``autoscaling``: seconds a worker node may sit idle before the autoscaler removes it.
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
        autoscaling: dict | None = None,
        idle_timeout_s: float = 10.0,
    ):
        _check_node_args("MiniCluster", num_cpus, resources, labels, object_store_memory)
        self.autoscaling = _check_autoscaling(autoscaling, idle_timeout_s)
        self.idle_timeout_s = idle_timeout_s
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ConfigError(f"workers={workers!r} must be a whole number >= 0, e.g. workers=2.")
        most = 1 + workers + sum(t["max_workers"] for t in self.autoscaling.values())
        _check_capacity(most, object_store_memory * most, existing=0)
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
        self.root = tempfile.mkdtemp(prefix="mc", dir=made_ray_tmpdir() or "/tmp")
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

        When this process's driver is connected to the cluster, it also waits until a task sent
        to the new node (by its ``ray.io/node-id`` label) has run there: from then on the
        scheduler places work on it, and a label selector that names it is not taken for one
        that no node can meet (which would send the work to a ``fallback_strategy`` instead).

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
        node = self._start_node(name, num_cpus, resources, labels, object_store_memory)
        _wait_until_schedulable(self.address, node.node_id)
        return node

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

    def autoscaled_nodes(self) -> list[dict]:
        """The worker nodes Ray's autoscaler started (``autoscaling=``), alive or gone, from the
        GCS: ``{"node_id", "node_type", "alive", "resources"}`` each, oldest first."""
        self._require_open()
        from ray.util.state import list_nodes

        ours = {n.node_id for n in self.nodes}
        found = list_nodes(address=self.address, detail=True, raise_on_missing_output=False)
        return [
            {
                "node_id": n.node_id,
                "node_type": n.labels.get(NODE_GROUP_LABEL, ""),
                "alive": n.state == "ALIVE",
                "resources": dict(n.resources_total),
            }
            for n in sorted(found, key=lambda n: n.start_time_ms or 0)
            if n.node_id not in ours and NODE_GROUP_LABEL in (n.labels or {})
        ]

    def autoscaler_log(self) -> str:
        """What Ray's autoscaler wrote to its log on the head (``logs/monitor.log``): each
        update's decisions, the nodes it launched and removed, and why a request is infeasible.
        Empty without ``autoscaling=``."""
        self._require_open()
        logs = sorted(Path(self.head.temp_dir).glob("session_*/logs/monitor.log"))
        return "".join(log.read_text(errors="replace") for log in logs)

    def node_history(self, every_s: float = 0.5):
        """Start sampling the worker nodes alive (by node type) and the tasks waiting for a
        node, every ``every_s`` seconds, until the history's ``stop()`` (a ``NodeHistory``;
        ``with mc.node_history() as history:`` stops it at the block's end). This process's
        driver must be connected to the cluster."""
        self._require_open()
        if not _driver_connected_to(self.address):
            raise ConfigError(
                "node_history() reads the cluster through this process's driver: connect it "
                "first, e.g. os.environ['RAY_ADDRESS'] = mc.address; raykit.init()."
            )
        if isinstance(every_s, bool) or not isinstance(every_s, int | float) or every_s <= 0:
            raise ConfigError(f"every_s={every_s!r} must be a number of seconds above 0.")
        from ._autoscale import NodeHistory

        return NodeHistory(self.address, every_s=every_s, head_ids=(self.head.node_id,))

    def ray_cli(self, *args: str, timeout_s: float = 120.0) -> str:
        """Run Ray's command line against this cluster, as in a terminal: ``ray <args>``.

        It runs the ``ray`` command of this Python with ``RAY_ADDRESS`` set to the cluster, and
        with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, Ray's single-host mode, without which the
        CLI would look for the cluster on the host's network address instead of 127.0.0.1.

        Parameters
        ----------
        *args
            The command's words, e.g. ``mc.ray_cli("status")`` or ``mc.ray_cli("list", "nodes")``.
        timeout_s
            Seconds the command may take.

        Returns
        -------
        str
            The command line (``$ ray status``) and what it printed, ready to ``print``.
        """
        self._require_open()
        if not args or not all(isinstance(a, str) and a for a in args):
            raise ConfigError(
                f"args={args!r} must be the words of a ray command, e.g. mc.ray_cli('status')."
            )
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0:
            raise ConfigError(f"timeout_s={timeout_s!r} must be a number of seconds above 0.")
        ray_exe = Path(sys.executable).with_name("ray")
        command = (
            [str(ray_exe)] if ray_exe.exists() else [sys.executable, "-m", "ray.scripts.scripts"]
        )
        env = {**os.environ, "RAY_ADDRESS": self.address, _ray_private.SINGLE_HOST_ENV: "0"}
        env["RAY_AUTH_MODE"] = self._env["RAY_AUTH_MODE"]
        shown = f"$ ray {shlex.join(args)}"
        try:
            proc = subprocess.run(
                [*command, *args], env=env, capture_output=True, text=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            raise RaykitError(f"`{shown[2:]}` did not finish within {timeout_s:g} s.") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise RaykitError(
                f"`{shown[2:]}` exited with {proc.returncode}: {' '.join(tail) or 'no output'}"
            )
        return f"{shown}\n{proc.stdout.rstrip()}"

    def process_roles(self) -> dict[str, dict[str, int]]:
        """What runs on each live node, read from the operating system: ``{node name: {role:
        count}}``, e.g. ``{"n00": {"gcs_server": 1, "raylet": 1, "dashboard": 1, ...}}``.

        Ray's processes are told apart by how they name themselves: the ``gcs_server`` and
        ``raylet`` binaries, the dashboard and its agents, the log monitor, and the worker
        processes (``ray::IDLE`` until they run something, then the task's or actor's name).
        """
        self._require_open()
        roles: dict[str, dict[str, int]] = {}
        for node in self.nodes:
            found: dict[str, int] = {}
            for proc in node.processes():
                role = _role(proc)
                if role:
                    found[role] = found.get(role, 0) + 1
            if found:
                roles[node.name] = dict(sorted(found.items()))
        return roles

    def running_on(
        self, node: MiniNode, *, wait_for: list[str] | tuple = (), timeout_s: float = 300.0
    ) -> list:
        """The tasks Ray's State API reports ``RUNNING`` on ``node`` (``TaskState`` records).

        Parameters
        ----------
        node
            A node of this cluster.
        wait_for
            Task names (function names, or names given with ``.options(name=...)``): wait until
            a task of each of these names runs on the node, then return what runs there.
        timeout_s
            How long to wait for ``wait_for``, in seconds (a worker process for each task
            has to start on the node first, which takes a while on a loaded host).

        Returns
        -------
        list of ray.util.state.common.TaskState
        """
        self._require_open()
        if node not in self.nodes:
            raise ConfigError(f"node={node!r} is not a node of this cluster: pass mc.workers[0].")
        if isinstance(wait_for, str) or not all(isinstance(n, str) for n in wait_for):
            raise ConfigError(
                f"wait_for={wait_for!r} must be a list of task names, e.g. wait_for=['work']."
            )
        from ray.util.state import list_tasks

        def now_running() -> list:
            filters = [("node_id", "=", node.node_id), ("state", "=", "RUNNING")]
            return list_tasks(
                address=state_api_address(),
                filters=filters,
                limit=10_000,
                raise_on_missing_output=False,
            )

        if not wait_for:
            return now_running()

        def all_running():
            tasks = now_running()
            # A function defined inside another is named `outer.<locals>.name` by Ray.
            return tasks if set(wait_for) <= {t.name.rsplit(".", 1)[-1] for t in tasks} else None

        return wait_until(
            all_running,
            timeout_s=timeout_s,
            every_s=0.1,
            what=f"Ray to report {sorted(set(wait_for))} running on {node.name}",
        )

    def attempts(self, refs: list, *, timeout_s: float = 60.0) -> list[list]:
        """Every attempt of the task behind each ref, from Ray's State API, oldest first.

        A task that ran once has one attempt; one that Ray ran again (a retry after its node
        died, or a reconstruction of a lost object) has more, each with its state, node and
        ``error_type`` (``NODE_DIED``...). Waits until each task's last attempt has finished
        or failed and the State API has recorded it.

        Parameters
        ----------
        refs
            ObjectRefs returned by ``.remote()`` calls (or one ref).
        timeout_s
            How long to wait for the records of each task.

        Returns
        -------
        list of list of ray.util.state.common.TaskState
            For each ref, in order, its task's attempts by ``attempt_number``.
        """
        import ray

        refs = [refs] if isinstance(refs, ray.ObjectRef) else refs
        if not isinstance(refs, list | tuple) or not all(
            isinstance(r, ray.ObjectRef) for r in refs
        ):
            raise ConfigError(
                f"refs={refs!r} must be a list of the ObjectRefs that .remote() calls returned."
            )
        return [task_attempts(ref, timeout_s=timeout_s) for ref in refs]

    def copies(self, ref, *, at_least: int = 1, timeout_s: float = 10.0) -> tuple[list, int]:
        """Which nodes hold a copy of ``ref``'s object, and its size in bytes.

        Read from ``ray.experimental.get_object_locations``. The owner hears of a new copy a
        moment after it is made, so this waits (up to ``timeout_s``) for ``at_least`` copies,
        then returns what Ray reports.

        Returns
        -------
        (list of str, int)
            The MiniCluster names of the nodes (``["n01", "n02"]``) and the object's size.
        """
        import ray
        from ray.experimental import get_object_locations

        if not isinstance(ref, ray.ObjectRef):
            raise ConfigError(f"ref={ref!r} must be an ObjectRef, e.g. ref = task.remote().")
        if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
            raise ConfigError(f"at_least={at_least!r} must be a whole number of copies, 1 or more.")

        def located():
            where = get_object_locations([ref])[ref]
            return where if len(where["node_ids"]) >= at_least else None

        where = wait_until(located, timeout_s=timeout_s, every_s=0.05, raise_on_timeout=False)
        where = where or get_object_locations([ref])[ref]
        return sorted(self.name_of(n) for n in where["node_ids"]), where["object_size"] or 0

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
        node = MiniNode(
            name=name,
            temp_dir=os.path.join(self.root, name),
            num_cpus=num_cpus,
            resources=dict(resources or {}),
            labels=dict(labels or {}),
            object_store_memory=int(store),
            ports={},
            is_head=head,
        )
        self.nodes.append(node)
        command = [sys.executable, "-m", "raykit._ray_start"]
        # What changes Ray's behaviour, shown in MiniNode.start_command: token authentication on
        # every node; on the head, the GCS's health checks and the Redis that backs it.
        node.start_env = {"RAY_AUTH_MODE": self._env["RAY_AUTH_MODE"]}
        if head:
            node.start_env.update(HEALTH_CHECK_ENV)
        if head and self.redis_address:
            node.start_env["RAY_REDIS_ADDRESS"] = self.redis_address
            node.start_env["RAY_external_storage_namespace"] = os.path.basename(self.root)
        if head and self.autoscaling:
            node.start_env.update(AUTOSCALER_ENV)
        env = {**self._env, **node.start_env, NODE_MARKER: node.temp_dir}
        for attempt in range(1, START_ATTEMPTS + 1):
            # Fresh ports on every attempt: a port taken by someone else between the pick and
            # the bind ("Failed to start the grpc server") would fail every retry otherwise.
            node.ports = self._pick_ports(head, port)
            # `ray start`, through a wrapper that keeps --node-ip-address=127.0.0.1 as given: Ray
            # would swap it for the host's network address, where every node would then listen.
            node.start_flags = self._node_flags(node)
            with (
                _timing.ray_start(f"MiniCluster node {name}"),
                _host.startup_turn(say=lambda line: print(f"raykit: {line}")),
            ):
                error = self._run_ray_start(node, command + node.start_flags, env)
            if error is None:
                break
            kill(node.processes())  # what the failed attempt left behind
            _set_aside_raylet_logs(node.temp_dir, attempt)
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

    @staticmethod
    def _pick_ports(head: bool, gcs_port: int | None) -> dict[str, int]:
        """A port for each server of a node, all different; the head's GCS on ``gcs_port`` when
        the user gave one."""
        names = ["node_manager", "object_manager", "dashboard_agent_listen"]
        names += ["dashboard_agent_grpc", "runtime_env_agent", "metrics_export"]
        if head:
            names += ["dashboard", "client"] + ([] if gcs_port else ["gcs"])
        # The user's GCS port is free too until the head binds it: never drawn for another server.
        picked = free_ports(len(names), "", avoid=[gcs_port] if gcs_port else [])
        ports = dict(zip(names, picked, strict=True))
        if head and gcs_port:
            ports["gcs"] = gcs_port
        return ports

    def _node_flags(self, node: MiniNode) -> list[str]:
        p = node.ports
        # What a node is comes first (head or worker, CPUs, resources, labels); then what lets
        # several nodes share one host: loopback, its own folder and a port for each server.
        if node.is_head:
            flags = ["--head", f"--port={p['gcs']}"]
        else:
            flags = [f"--address={self.address}"]
        flags += [f"--num-cpus={node.num_cpus}", "--num-gpus=0"]
        if node.resources:
            flags.append(f"--resources={json.dumps(node.resources)}")
        if node.labels:
            flags.append("--labels=" + ",".join(f"{k}={v}" for k, v in node.labels.items()))
        flags += [
            f"--object-store-memory={node.object_store_memory}",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={node.temp_dir}",
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
        if node.is_head and self.autoscaling:
            flags.append(f"--autoscaling-config={self._write_autoscaling_config(node)}")
        if node.is_head:
            flags += [
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={p['dashboard']}",
                f"--ray-client-server-port={p['client']}",
            ]
        return flags

    def _write_autoscaling_config(self, head: MiniNode) -> str:
        """The autoscaler's cluster config for the fake multi-node provider, as a file.

        The same keys as Ray's own example for that provider (``fake_multi_node/example.yaml``
        in Ray's source, left out of its wheel), with this cluster's head and GCS address: the
        provider would otherwise join its nodes to a GCS on port 6379, anyone's.
        """
        types = {
            name: {
                # The provider gives each node this store; left out, Ray would size it at 30%
                # of the host's RAM, once per node, whoever else is on the host.
                "resources": {**t["resources"], "object_store_memory": DEFAULT_OBJECT_STORE},
                # What KubeRay gives a worker group's Pods, so that tasks and the kit's views
                # can tell the node types apart (the fake provider sets no label of its own).
                "labels": {NODE_GROUP_LABEL: name},
                "node_config": {},
                "min_workers": t["min_workers"],
                "max_workers": t["max_workers"],
            }
            for name, t in self.autoscaling.items()
        }
        types[FAKE_HEAD_TYPE] = {
            "resources": {"CPU": head.num_cpus, **head.resources},
            "node_config": {},
            "max_workers": 0,
        }
        config = {
            "cluster_name": os.path.basename(self.root),
            "max_workers": sum(t["max_workers"] for t in self.autoscaling.values()),
            "provider": {
                "type": "fake_multinode",
                "use_node_id_as_ip": True,
                "disable_node_updaters": True,
                "disable_launch_config_check": True,
                "gcs_address": f"127.0.0.1:{head.ports['gcs']}",
            },
            "available_node_types": types,
            "head_node_type": FAKE_HEAD_TYPE,
            "upscaling_speed": 1.0,
            "idle_timeout_minutes": self.idle_timeout_s / 60,
            "auth": {},
            "docker": {},
            "file_mounts": {},
            "cluster_synced_files": [],
            "file_mounts_sync_continuously": False,
            "rsync_exclude": [],
            "rsync_filter": [],
            "initialization_commands": [],
            "setup_commands": [],
            "head_setup_commands": [],
            "worker_setup_commands": [],
            "head_start_ray_commands": [],
            "worker_start_ray_commands": [],
        }
        path = Path(self.root, "autoscaling.json")  # JSON is YAML, which Ray reads
        path.write_text(json.dumps(config, indent=1))
        return str(path)

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


def _wrap(words: list[str], *, indent: str) -> list[str]:
    """``words`` joined into lines of at most about ``_COMMAND_WIDTH`` characters; every line
    after the first starts with ``indent``."""
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= _COMMAND_WIDTH - 2:
            lines[-1] += " " + word
        else:
            lines.append((indent if lines else "") + word)
    return lines


def _cleanup(sup: Supervisor) -> None:
    """Kill every process of the cluster (raylets first, so that no new worker starts)."""
    sup.close(first=_is_raylet)


# -- helpers ----------------------------------------------------------------------------------


def _processes_of(marker: str, folder: str) -> list[psutil.Process]:
    """Live processes whose environment has ``marker=folder``, and all their descendants."""
    return marked_processes({marker: folder})


def read_attempts(ref) -> list:
    """The attempts of the task behind ``ref`` that the State API has recorded so far, oldest
    first (one query; none yet for a task submitted a moment ago)."""
    from ray.util.state import list_tasks

    found = list_tasks(
        address=state_api_address(),
        filters=[("task_id", "=", ref.task_id().hex())],
        detail=True,
        limit=1_000,
        raise_on_missing_output=False,
    )
    return sorted(found, key=lambda t: t.attempt_number)


def task_attempts(ref, *, timeout_s: float = 60.0) -> list:
    """The attempts of the task behind ``ref``, once its last attempt has finished or failed
    in the State API's records (which trail the task by up to a second or two)."""

    def settled():
        found = read_attempts(ref)
        numbers = [a.attempt_number for a in found]
        complete = numbers == list(range(len(found)))  # no earlier attempt still on its way
        return found if found and complete and found[-1].state in _DONE else None

    found = wait_until(settled, timeout_s=timeout_s, every_s=0.2, raise_on_timeout=False)
    return found or read_attempts(ref)


def actor_record(actor_id: str):
    """The State API's record of an actor (``ActorState``: state, node, ``num_restarts``), or
    None while it has none."""
    from ray.util.state import get_actor

    return get_actor(actor_id, address=state_api_address())


def actor_calls(actor_id: str) -> list:
    """Every method call of an actor that the State API recorded (``TaskState``, with the node
    each ran on)."""
    from ray.util.state import list_tasks

    return list_tasks(
        address=state_api_address(),
        filters=[("actor_id", "=", actor_id), ("type", "=", "ACTOR_TASK")],
        limit=10_000,
        raise_on_missing_output=False,
    )


def _role(proc: psutil.Process) -> str | None:
    """What a process of a node is (``raylet``, ``dashboard agent``, ``worker ray::IDLE``...)."""
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return None
    if not cmd:
        return None
    exe = os.path.basename(cmd[0])
    if cmd[0].startswith("ray::"):  # Ray's agents and workers rename themselves
        return _RENAMED.get(cmd[0], "worker " + cmd[0])
    # The dashboard runs its modules in processes of their own, forked by a multiprocessing
    # forkserver (with its resource tracker).
    if exe.startswith("ray-dashboard-") or "from multiprocessing." in " ".join(cmd):
        return "dashboard module"
    if "ray.util.client.server" in cmd:
        return "ray client server"
    script = next((os.path.basename(a) for a in cmd[1:] if a.endswith(".py")), exe)
    return _SCRIPTS.get(script, script)


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


def _set_aside_raylet_logs(temp_dir: str, attempt: int) -> None:
    """Rename a failed attempt's ``raylet.out`` to ``raylet.attempt<N>.out``: the next attempt
    runs in the same session folder, and its fatal line would fail that attempt at once."""
    for log in Path(temp_dir).glob("session_*/logs/raylet.out"):
        log.rename(log.with_name(f"raylet.attempt{attempt}.out"))


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


def _driver_connected_to(address: str) -> bool:
    import ray

    if not ray.is_initialized():
        return False
    try:
        connected = ray.get_runtime_context().gcs_address
    except Exception:  # a half-torn-down driver: call it connected, so that it is shut down
        connected = address
    return connected.rsplit(":", 1)[-1] == address.rsplit(":", 1)[-1]


def _wait_until_schedulable(address: str, node_id: str, timeout: float = START_TIMEOUT_S) -> None:
    """Run a task on the node by its ``ray.io/node-id`` label, when this process's driver is
    connected to the cluster: a new node joins the GCS a moment before the scheduler that places
    the driver's tasks hears of it."""
    import ray

    if not node_id or not _driver_connected_to(address):
        return

    @ray.remote(num_cpus=0, max_retries=0)
    def joined() -> str:
        return ray.get_runtime_context().get_node_id()

    probe = joined.options(label_selector={"ray.io/node-id": node_id}).remote()
    try:
        ray.get(probe, timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        ray.cancel(probe, force=True)
        raise RaykitError(
            f"node {node_id[:8]} joined the cluster, but no task ran on it within {timeout:.0f} s."
        ) from None


def _disconnect_driver_from(address: str) -> None:
    if _driver_connected_to(address):
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


def _check_autoscaling(autoscaling: dict | None, idle_timeout_s: float) -> dict:
    """The worker node types of ``autoscaling``, checked and with their defaults filled in."""
    example = '{"cpu-worker": {"resources": {"CPU": 1}, "max_workers": 2}}'
    if isinstance(idle_timeout_s, bool) or not isinstance(idle_timeout_s, int | float):
        raise ConfigError(f"idle_timeout_s={idle_timeout_s!r} must be a number of seconds.")
    if not 1 <= idle_timeout_s <= 3600:
        raise ConfigError(f"idle_timeout_s={idle_timeout_s!r} must be between 1 and 3600 seconds.")
    if autoscaling is None:
        return {}
    if not isinstance(autoscaling, dict) or not autoscaling:
        raise ConfigError(f"autoscaling={autoscaling!r} must map node type names, e.g. {example}.")
    checked = {}
    for name, spec in autoscaling.items():
        where = f"autoscaling[{name!r}]"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
            raise ConfigError(
                f"{where}: a node type name is lower-case letters, digits, '.', '_', '-'."
            )
        if name == FAKE_HEAD_TYPE:
            raise ConfigError(f"{where}: {FAKE_HEAD_TYPE} is the head's type; name yours another.")
        if not isinstance(spec, dict) or set(spec) - {"resources", "min_workers", "max_workers"}:
            raise ConfigError(
                f"{where}={spec!r} must be a dict with 'resources', 'min_workers' and "
                f"'max_workers', e.g. {example}."
            )
        resources = spec.get("resources", {"CPU": 1})
        cpus = resources.get("CPU", 0) if isinstance(resources, dict) else None
        if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 0:
            raise ConfigError(
                f"{where}: resources={resources!r} must be a dict whose 'CPU' is a whole "
                f"number >= 0, e.g. {{'CPU': 1, 'big_mem': 1}}."
            )
        _check_node_args(where, cpus, resources, None, DEFAULT_OBJECT_STORE)
        low, high = spec.get("min_workers", 0), spec.get("max_workers", 1)
        for key, value in (("min_workers", low), ("max_workers", high)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{where}: {key}={value!r} must be a whole number >= 0.")
        if low > high:
            raise ConfigError(f"{where}: min_workers={low} is above max_workers={high}.")
        checked[name] = {"resources": dict(resources), "min_workers": low, "max_workers": high}
    return checked


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
