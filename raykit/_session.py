"""``raykit.init`` and ``raykit.shutdown``: an idempotent, host-aware way into Ray."""

from __future__ import annotations

import contextlib
import difflib
import inspect
import os
import re
import socket
import tempfile
import threading
import time

from . import _host, _ray_private, _timing
from ._dashboard import dashboard_link
from ._html import render
from ._ports import free_port
from ._versions import installed_version
from .exceptions import ClusterUnreachable, ConfigError

# How often raykit.init tries to start a local cluster when Ray's own start-up times out.
START_ATTEMPTS = 3

# Seconds to wait for a TCP answer from RAY_ADDRESS before saying it is unreachable. Ray itself
# would retry for minutes, which in a notebook looks like a hang.
CONNECT_TIMEOUT_S = 10.0

# Keywords ray.init takes through **kwargs (worker.py pops these before it rejects the rest).
_RAY_HIDDEN_KWARGS = {
    "_enable_object_reconstruction",
    "_plasma_directory",
    "object_spilling_directory",
    "_node_ip_address",
    "_driver_object_store_memory",
    "_memory",
    "_redis_username",
    "_redis_password",
    "_temp_dir",
    "_metrics_export_port",
    "_system_config",
    "_tracing_startup_hook",
    "_node_name",
    "_skip_env_hook",
}
# Only meaningful when raykit starts the cluster; Ray rejects them when connecting.
_LOCAL_ONLY = (
    "num_cpus",
    "num_gpus",
    "resources",
    "object_store_memory",
    "labels",
    "_system_config",
    "_enable_object_reconstruction",
    "_node_name",
)

_session: Session | None = None

# Held while Ray is shut down, and by background readers (ClusterView) around each read of Ray's
# state, so that no thread asks Ray for its state while the driver is being torn down.
ray_lock = threading.RLock()


class Session:
    """What :func:`raykit.init` returns: Ray's context plus what raykit chose, and why.

    Attribute access falls through to Ray's own ``RayContext`` (``dashboard_url``,
    ``address_info``...). Usable as a context manager that shuts Ray down on exit.
    """

    def __init__(
        self,
        ray_context,
        *,
        started_local: bool,
        reasons: list[str],
        restore_env: dict | None = None,
    ):
        self.ray_context = ray_context
        self.started_local = started_local
        self.reasons = reasons
        # Environment variables this session changed, with the values to put back at shutdown.
        self.restore_env = restore_env or {}

    def __getattr__(self, name):
        if name.startswith("_"):  # keep IPython's display hooks ours, not Ray's static card
            raise AttributeError(name)
        return getattr(self.__dict__["ray_context"], name)

    @property
    def address(self) -> str:
        """The GCS address other drivers can connect to."""
        return self.ray_context.address_info.get("gcs_address") or ""

    @property
    def dashboard_link(self) -> str | None:
        """A dashboard link that works from where the notebook is opened (see ``_dashboard``)."""
        return dashboard_link(self.ray_context.dashboard_url)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutdown()

    def _facts(self) -> dict:
        import ray

        if ray.is_initialized():
            res = ray.cluster_resources()
            resources = ", ".join(
                f"{k} {_host.fmt_bytes(v) if k in ('memory', 'object_store_memory') else f'{v:g}'}"
                for k, v in sorted(res.items())
                if not k.startswith("node:")
            )
        else:
            resources = "stopped (raykit.shutdown() was called)"
        return {
            "ray_version": installed_version("ray") or "?",
            "how": "started a local cluster at" if self.started_local else "connected to",
            "address": self.address,
            "dashboard": self.dashboard_link,
            "resources": resources,
            "auth": "on" if _token_auth_enabled() else "off",
            "reasons": self.reasons,
        }

    def _repr_html_(self) -> str:
        return render("session.html", **self._facts())

    def __repr__(self) -> str:
        f = self._facts()
        lines = [
            f"Ray {f['ray_version']}: {f['how']} {f['address']}",
            f"  dashboard:  {f['dashboard'] or 'off'}",
            f"  resources:  {f['resources']}",
            f"  token auth: {f['auth']}",
        ]
        lines += [f"  sizing:     {r}" for r in f["reasons"]]
        return "\n".join(lines)


def init(
    *,
    token_auth: bool | None = None,
    expose: bool = False,
    own_cluster: bool = False,
    **overrides,
) -> Session:
    """Start a local Ray cluster sized for this host, or connect to ``RAY_ADDRESS``.

    A local cluster listens on 127.0.0.1 only, with ports of its own, so that on a shared host
    (JupyterHub, a lab server, CI) nobody else can reach it and several clusters can run at once.

    Parameters
    ----------
    token_auth
        Leave ``None`` to keep Ray's default (token authentication on). ``False`` turns it off
        for this local cluster only, explicitly; :func:`shutdown` restores the setting that was
        there before. raykit never turns it off by itself.
    expose
        ``True`` lets the local cluster listen on the host's network address, for other machines
        to join it (``ray start --address``) or connect to it. Token authentication must then
        stay on.
    own_cluster
        ``True`` for work that needs a cluster of its own shape (a small object store to show
        spilling, logical GPUs, its own metrics settings): a local cluster starts even where
        ``RAY_ADDRESS`` names another one, which is left untouched, and ``RAY_ADDRESS`` names
        the new one (for ``ray`` commands and jobs) until :func:`shutdown`. Without it, sizes
        given while ``RAY_ADDRESS`` is set are refused.
    **overrides
        Any keyword of ``ray.init``. ``num_cpus`` and ``object_store_memory`` (bytes, or a string
        such as ``"2GB"``) replace raykit's sizing; ``address`` wins over ``RAY_ADDRESS``.

    Returns
    -------
    Session
        Ray's context with the dashboard link and the reasons for the sizing. Calling ``init``
        again returns the running session and says so.
    """
    global _session
    import ray

    overrides = _validate(overrides)
    for name, flag in (("expose", expose), ("own_cluster", own_cluster)):
        if not isinstance(flag, bool):
            raise ConfigError(f"{name}={flag!r} must be True or False.")
    if expose and token_auth is False:
        raise ConfigError(
            "expose=True with token_auth=False would let anyone on the network run code on this "
            "host. Keep token authentication on (leave token_auth out), or drop expose=True."
        )
    if ray.is_initialized():
        if _session is None:  # Ray was started with ray.init() directly: adopt it.
            _session = Session(ray.init(ignore_reinit_error=True), started_local=False, reasons=[])
        ignored = f" (ignoring {', '.join(sorted(overrides))})" if overrides else ""
        _say(
            f"Ray is already running at {_session.address}; returning it{ignored}. "
            "Call raykit.shutdown() first to start afresh."
        )
        return _session

    if own_cluster and overrides.get("address") not in (None, "local"):
        raise ConfigError(
            f"own_cluster=True starts a local cluster, but address={overrides['address']!r} "
            "names an existing one. Drop one of the two."
        )
    source = "address" if overrides.get("address") else "RAY_ADDRESS"
    address = overrides.pop("address", None) or os.environ.get("RAY_ADDRESS") or None
    if own_cluster and address and address != "local":
        # The new cluster's processes must not inherit the other cluster's address.
        users = os.environ.pop("RAY_ADDRESS", None)
        try:
            _session = _start_local(overrides, token_auth, expose)
        except BaseException:
            if users is not None:
                os.environ["RAY_ADDRESS"] = users
            raise
        _point_ray_address_at(_session, beside=address, users=users)
    elif address and address != "local":
        if expose:
            raise ConfigError(
                f"expose=True only applies to a cluster raykit starts, but {source}={address!r} "
                "names an existing one. Drop expose, or unset RAY_ADDRESS."
            )
        _session = _connect(address, source, overrides)
    else:
        _session = _start_local(overrides, token_auth, expose)
    return _session


def shutdown() -> None:
    """Stop what :func:`init` started (or disconnect from a remote cluster); safe to call twice."""
    global _session
    import ray

    if not ray.is_initialized():
        _session = None
        return
    started_local = _session is not None and _session.started_local
    restore = _session.restore_env if _session is not None else {}
    with ray_lock:
        ray.shutdown()
    _session = None
    if restore:
        _restore_environment(restore)
    _say("local Ray cluster stopped." if started_local else "disconnected from Ray.")


def state_api_address() -> str:
    """The address to give ``ray.util.state`` calls: the connected cluster's GCS.

    Left to itself the State API looks for "the" cluster on the host, which fails or picks the
    wrong one when several run here (a MiniCluster, a colleague's, a test's).
    """
    import ray

    return ray.get_runtime_context().gcs_address


def current_dashboard_url() -> str | None:
    """The connected cluster's dashboard URL, from Ray's context (public API)."""
    import ray

    if _session is not None:
        return _session.ray_context.dashboard_url
    # Ray was started with ray.init() directly: ask it for its context again.
    return ray.init(ignore_reinit_error=True).dashboard_url if ray.is_initialized() else None


def _start_local(overrides: dict, token_auth: bool | None, expose: bool) -> Session:
    restore_env = {}
    if token_auth is not None:
        restore_env["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE")
        os.environ["RAY_AUTH_MODE"] = "token" if token_auth else "disabled"
        _ray_private.refresh_auth_mode()
    if token_auth is False:
        _say(
            "token authentication turned OFF for this cluster at your request: anyone who "
            "reaches its ports can run code. raykit.shutdown() turns it back on."
        )
    host = _host.HostFacts.detect()
    cpus, store = overrides.pop("num_cpus", None), overrides.pop("object_store_memory", None)
    if store is not None and store > host.memory_bytes:
        raise ConfigError(
            f"object_store_memory={_host.fmt_bytes(store)} is more than this host's "
            f"{_host.fmt_bytes(host.memory_bytes)} of RAM. Pass a smaller size, or leave it out "
            "and raykit takes 30% of RAM."
        )
    plan = _host.plan_local_cluster(host, num_cpus=cpus, object_store_memory=store)
    loopback = not expose and _is_loopback_address(
        f"{overrides.get('_node_ip_address', '127.0.0.1')}:0"
    )
    network = {"dashboard_port": free_port()}  # Ray's fixed 8265 collides between users
    picked = {"dashboard_port"} - overrides.keys()  # a user's own port is not raykit's to move
    if loopback:
        network["_node_ip_address"] = "127.0.0.1"
        _set_single_host_env(restore_env)
    elif expose:  # the processes Ray spawns must not inherit single-host mode from this one
        _unset_single_host_env(restore_env)
    kwargs = {"include_dashboard": True, **plan.init_kwargs(), **network, **overrides}
    try:  # a RAY_TMPDIR that cannot be made puts the environment back too
        kwargs.setdefault("_temp_dir", _own_temp_dir())
        context = _ray_init_local(kwargs, loopback, picked)
    except BaseException:
        _restore_environment(restore_env)
        raise
    _ray_private.record_cluster_address(context.address_info["gcs_address"], kwargs["_temp_dir"])
    reasons = [*plan.reasons, _listening_reason(loopback, context)]
    for reason in reasons:
        _say(reason)
    return Session(context, started_local=True, reasons=reasons, restore_env=restore_env)


def _point_ray_address_at(session: Session, beside: str, users: str | None) -> None:
    """RAY_ADDRESS names the cluster just started, so that ``ray`` commands and jobs run from
    here reach it; shutdown() puts the user's own value back."""
    session.restore_env.setdefault("RAY_ADDRESS", users)
    os.environ["RAY_ADDRESS"] = session.address
    line = (
        f"RAY_ADDRESS={beside} is set, but this work needs a cluster of its own shape "
        f"(own_cluster=True): started a local one beside it, which is left untouched. "
        f"RAY_ADDRESS names the new one ({session.address}) until raykit.shutdown()."
    )
    session.reasons.append(line)
    _say(line)


def _own_temp_dir() -> str:
    """A Ray temp dir of this cluster's own, under ``$RAY_TMPDIR`` (or the system's): Ray's
    shared ``/tmp/ray`` holds one ``ray_current_cluster`` for every cluster of the host, and
    a job submitted to this cluster must find this one (see ``record_cluster_address``). Short,
    as Ray's socket paths inside it must stay under 108 characters."""
    base = os.path.join(made_ray_tmpdir() or tempfile.gettempdir(), f"rk{os.getuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    return tempfile.mkdtemp(prefix="", dir=base)


def made_ray_tmpdir() -> str | None:
    """``$RAY_TMPDIR``, made if it is missing (as ``ray start`` makes its ``--temp-dir``), or
    None where it is unset. A folder that cannot be made is the user's setting to fix."""
    base = os.environ.get("RAY_TMPDIR")
    if not base:
        return None
    try:
        os.makedirs(base, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"RAY_TMPDIR={base!r} is not a folder that can be made here ({error.strerror}). "
            "Point RAY_TMPDIR at a folder you can write to, or unset it."
        ) from None
    return base


def _ray_init_local(kwargs: dict, loopback: bool, picked: set[str] = frozenset()):
    """``ray.init`` a new local cluster; on a busy host, once more if its start-up timed out or
    another program took a port raykit had picked (a name in ``picked``) before Ray bound it."""
    import ray

    for attempt in range(1, START_ATTEMPTS + 1):
        began = time.time()
        # Not a port picked for this cluster already: that one is free too until Ray binds it,
        # and Ray refuses two servers on one port (seen in CI: dashboard and agent both 24840).
        agent_port = free_port(avoid=_ports_given(kwargs))
        try:
            with (
                _timing.ray_start("raykit.init"),
                _host.startup_turn(say=_say),
                _ray_private.local_start(loopback=loopback, dashboard_agent_port=agent_port),
            ):
                # "local" makes Ray start a new cluster even if another one runs on this host.
                return ray.init(address="local", **kwargs)
        except Exception as exc:
            # A start that failed leaves its GCS, dashboard and monitors running, and Ray's
            # shutdown does not know them (ray.init never returned): they go first, whether
            # this start is tried again or not.
            _kill_own_ray_children(since=began)
            # Ray gives a raylet 30 s to register and its agents 15 s to start; on a loaded
            # host (a workshop server, CI) they can miss that, and ray.init gives up.
            taken = _picked_port_taken(str(exc), kwargs, picked)
            if attempt == START_ATTEMPTS or not (taken or "timed out during startup" in str(exc)):
                raise
            if taken:
                # A picked port stays free only until Ray binds it; another cluster starting on
                # this host can draw it first (seen in CI: "Failed to bind ... already occupied").
                why = f"another program took port {kwargs[taken]} before Ray could bind it"
                kwargs[taken] = free_port(avoid=_ports_given(kwargs))
            else:
                why = "Ray's start-up timed out (this host is busy)"
            _say(f"{why}; starting it again (attempt {attempt + 1} of {START_ATTEMPTS}).")


def _occupied_port(message: str) -> int | None:
    """The port of Ray's "Failed to bind to HOST:PORT because it's already occupied" error."""
    found = re.search(r"Failed to bind to \S*:(\d+) because it's already occupied", message)
    return int(found.group(1)) if found else None


def _picked_port_taken(message: str, kwargs: dict, picked) -> str | None:
    """The name of the port raykit picked that Ray's error says was occupied, if any."""
    port = _occupied_port(message)
    return next((name for name in picked if kwargs.get(name) == port), None)


def _ports_given(kwargs: dict) -> set[int]:
    """The ports ``ray.init`` is told to use (``dashboard_port``, ``_metrics_export_port``...)."""
    return {
        value
        for name, value in kwargs.items()
        if name.endswith("_port") and isinstance(value, int) and value > 0
    }


def _kill_own_ray_children(since: float) -> None:
    """SIGKILL what a failed start of this process left: the Ray processes it started at or
    after ``since`` (a GCS, a raylet, the dashboard: ray.init's direct children) and their
    descendants (the raylet's agents and workers). Only direct children: a process that runs
    notebooks or tests has other Ray clusters further down its tree (each kernel's), started
    meanwhile, and those are not this start's."""
    import psutil

    from ._exposure import is_ray_process

    victims = []
    for child in psutil.Process().children():
        try:
            if child.create_time() >= since - 1 and is_ray_process(child):
                victims.extend([child, *child.children(recursive=True)])
        except psutil.Error:
            continue
    for proc in victims:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=10)


def _listening_reason(loopback: bool, context) -> str:
    if loopback:
        return "listening on 127.0.0.1 only: other machines and containers cannot reach it"
    ip = context.address_info.get("node_ip_address", "?")
    return f"listening on {ip} (expose=True): other hosts can join; token auth guards it"


def _restore_environment(saved: dict) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if "RAY_AUTH_MODE" in saved:
        _ray_private.refresh_auth_mode()


def _connect(address: str, source: str, overrides: dict) -> Session:
    import ray

    local_only = [k for k in _LOCAL_ONLY if k in overrides]
    if local_only:
        raise ConfigError(
            f"{', '.join(local_only)} only size a cluster that raykit starts, but {source}="
            f"{address!r} names an existing one. Drop {', '.join(local_only)}, pass "
            "own_cluster=True to start a local cluster of this shape beside it, or unset "
            "RAY_ADDRESS."
        )
    _check_reachable(address, source)
    restore_env = {}
    loopback = _is_loopback_address(address)
    if loopback:  # a MiniCluster, or a local `ray start --head --node-ip-address=127.0.0.1`
        _set_single_host_env(restore_env)
    try:
        with _ray_private.single_host() if loopback else contextlib.nullcontext():
            context = ray.init(address=address, **overrides)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        _restore_environment(restore_env)
        raise ClusterUnreachable(
            f"could not connect to the Ray cluster at {source}={address!r}: {exc}. Check the "
            "address (GCS `host:6379`, or Ray Client `ray://host:10001`), or unset RAY_ADDRESS."
        ) from None
    except BaseException:
        _restore_environment(restore_env)
        raise
    _say(f"connected to the Ray cluster at {address} (from {source}).")
    return Session(context, started_local=False, reasons=[], restore_env=restore_env)


def _is_loopback_address(address: str) -> bool:
    from ._exposure import is_loopback

    host = address.split("://", 1)[-1].rpartition(":")[0].strip("[]")
    return host == "localhost" or is_loopback(host)


def _set_single_host_env(restore_env: dict) -> None:
    """Ray's CLI run from this session keeps 127.0.0.1 too; shutdown() puts the old value back."""
    restore_env.setdefault(
        _ray_private.SINGLE_HOST_ENV, os.environ.get(_ray_private.SINGLE_HOST_ENV)
    )
    os.environ[_ray_private.SINGLE_HOST_ENV] = "0"


def _unset_single_host_env(restore_env: dict) -> None:
    """The cluster asked to listen on the network; shutdown() puts the old value back."""
    if _ray_private.SINGLE_HOST_ENV in os.environ:
        restore_env.setdefault(
            _ray_private.SINGLE_HOST_ENV, os.environ[_ray_private.SINGLE_HOST_ENV]
        )
        del os.environ[_ray_private.SINGLE_HOST_ENV]


def _check_reachable(address: str, source: str) -> None:
    """Fail fast, naming the address, when nothing answers there."""
    if address == "auto":
        return
    if address.startswith(("http://", "https://")):
        raise ConfigError(
            f"{source}={address!r} is an HTTP (dashboard or job) address. ray.init needs the GCS "
            "address, such as 'head-host:6379', or a Ray Client one, 'ray://head-host:10001'."
        )
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(
            f"{source}={address!r} is not of the form host:port. Use e.g. '127.0.0.1:6379' or "
            "'ray://head-host:10001'."
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterUnreachable(
            f"nothing answers at {source}={address!r} ({exc.strerror or exc}). Start the cluster "
            "(e.g. `ray start --head`), fix the address, or unset RAY_ADDRESS to let raykit start "
            "a local cluster."
        ) from None


_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def _validate(overrides: dict) -> dict:
    """Check the caller's keywords before Ray sees them; raise ConfigError naming the fix."""
    import ray

    known = set(inspect.signature(ray.init).parameters) - {"kwargs"} | _RAY_HIDDEN_KWARGS
    for name in overrides:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ConfigError(f"raykit.init got an unknown argument {name!r}.{hint}")
    out = dict(overrides)
    if "num_cpus" in out and out["num_cpus"] is not None:
        out["num_cpus"] = _as_number("num_cpus", out["num_cpus"], minimum=1, whole=True)
    if "num_gpus" in out and out["num_gpus"] is not None:
        out["num_gpus"] = _as_number("num_gpus", out["num_gpus"], minimum=0, whole=False)
    if "object_store_memory" in out and out["object_store_memory"] is not None:
        out["object_store_memory"] = _as_bytes("object_store_memory", out["object_store_memory"])
    if out.get("resources") is not None:
        res = out["resources"]
        if not isinstance(res, dict):
            raise ConfigError(f"resources={res!r} must be a dict such as {{'zone_a': 1}}.")
        for key, value in res.items():
            _as_number(f"resources[{key!r}]", value, minimum=0, whole=False)
    return {k: v for k, v in out.items() if v is not None}


def _as_number(name: str, value, *, minimum: float, whole: bool):
    example = "2" if whole else "0.5"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"{name}={value!r} is not a number. Pass a {'whole ' if whole else ''}number "
            f">= {minimum:g}, e.g. {name}={example}."
        )
    if value < minimum or (whole and value != int(value)):
        raise ConfigError(
            f"{name}={value!r} is out of range: it must be a {'whole ' if whole else ''}number "
            f">= {minimum:g}, e.g. {name}={example}."
        )
    return int(value) if whole else value


def _as_bytes(name: str, value) -> int:
    if isinstance(value, str):
        match = _BYTES.match(value)
        if not match:
            raise ConfigError(
                f"{name}={value!r} is not a size. Pass bytes as a number, or a string such as "
                f"'500MB' or '2GiB'."
            )
        unit = (match.group(2) or "b").lower()
        base = 1024 if unit.endswith("ib") else 1000
        value = float(match.group(1)) * base ** "bkmgt".index(unit[0])
    number = _as_number(name, value, minimum=0, whole=False)
    if number < _host.OBJECT_STORE_MINIMUM:
        raise ConfigError(
            f"{name}={value!r} is below Ray's minimum object store of 75 MiB. Pass at least "
            f"'100MB' ({name} counts bytes, not megabytes)."
        )
    return int(number)


def _token_auth_enabled() -> bool:
    return _ray_private.token_auth_enabled()


def _say(message: str) -> None:
    print(f"raykit: {message}")
