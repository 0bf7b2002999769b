"""Every use of Ray's private API in the kit, in one place, so a Ray upgrade fails loudly here.

Ray 2.60 has no public call for what each function below does (the object store's counters, the
auth token's setup, per-node free resources, an actor's class name from its handle). Anything
with a public way is not here: the session dir comes from the context's ``address_info``, the
dashboard from its ``dashboard_url``, the token from ``ray get-auth-token``.
``tests/test_ray_private.py`` imports every symbol listed in :data:`CONTRACT`, so an upgrade that
moves one fails that test, by name, before any lesson does.
"""

from __future__ import annotations

import contextlib
import importlib

# (module, attribute) pairs this module relies on; the contract test imports each one.
CONTRACT = [
    ("ray._private.internal_api", "get_state_from_address"),
    ("ray._private.internal_api", "get_memory_info_reply"),
    ("ray._private.state", "available_resources_per_node"),
    ("ray._private.authentication.authentication_utils", "is_token_auth_enabled"),
    ("ray._private.authentication.authentication_token_setup", "generate_and_save_token"),
    ("ray._private.authentication.authentication_token_setup", "_enable_token_auth"),
    ("ray._raylet", "AuthenticationTokenLoader"),
    ("ray._raylet", "Config"),
    ("ray._raylet", "persist_port"),
    ("ray._raylet", "get_port_filename"),
    ("ray._raylet", "DASHBOARD_AGENT_LISTEN_PORT_NAME"),
    ("ray._raylet", "METRICS_AGENT_PORT_NAME"),
    ("ray._raylet", "METRICS_EXPORT_PORT_NAME"),
    ("ray._raylet", "RUNTIME_ENV_AGENT_PORT_NAME"),
    ("ray._private.utils", "write_ray_address"),
]

# Ray numbers a task's return objects from 1 and the objects a worker puts from 10**8 up (its
# kMaxTaskReturns); the index is the last 4 bytes of the object id, little-endian.
_FIRST_PUT_INDEX = 10**8


def _get(module: str, name: str):
    return getattr(importlib.import_module(module), name)


# -- object store --------------------------------------------------------------------------------


def gcs_state(gcs_address: str):
    """A GCS state client for ``gcs_address`` (what ``ray memory`` builds)."""
    return _get("ray._private.internal_api", "get_state_from_address")(gcs_address)


def store_counters(state):
    """The raylets' object-store counters, summed over the cluster (``ray memory --stats-only``)."""
    return _get("ray._private.internal_api", "get_memory_info_reply")(state).store_stats


def free_resources_per_node() -> dict:
    """``{node_id: {resource: free amount}}`` from the GCS (a fully used resource is absent)."""
    return _get("ray._private.state", "available_resources_per_node")()


def is_put_ref(ref) -> bool:
    """Whether ``ref`` names an object made by ``ray.put`` rather than returned by a task."""
    return int.from_bytes(ref.binary()[-4:], "little") > _FIRST_PUT_INDEX


# -- actors and Train ----------------------------------------------------------------------------


def actor_class_name(handle) -> str:
    """The class name of the actor behind ``handle`` (Ray keeps it only on a private field)."""
    return handle._ray_actor_creation_function_descriptor.class_name.rsplit(".", 1)[-1]


def resources_per_worker(scaling_config) -> dict:
    """What each Train worker reserves, defaults filled in as Ray Train fills them."""
    return dict(scaling_config._resources_per_worker_not_none)


# -- token authentication -------------------------------------------------------------------------


def token_auth_enabled() -> bool:
    """Whether this process would authenticate to Ray with a token."""
    return bool(_get("ray._private.authentication.authentication_utils", "is_token_auth_enabled")())


def ensure_token() -> None:
    """Create ``~/.ray/auth_token`` if missing: what ``ray get-auth-token --generate`` does."""
    loader = _get("ray._raylet", "AuthenticationTokenLoader").instance()
    if not loader.has_token(ignore_auth_mode=True):
        _get("ray._private.authentication.authentication_token_setup", "generate_and_save_token")()
        loader.reset_cache()


def enable_token_auth_here() -> None:
    """Make this process's driver send the token (``ray.init(address=...)`` does not by itself)."""
    _get("ray._private.authentication.authentication_token_setup", "_enable_token_auth")()


def refresh_auth_mode() -> None:
    """Make this process see a changed ``RAY_AUTH_MODE`` (Ray caches its config at start)."""
    _get("ray._raylet", "Config").initialize("")
    _get("ray._raylet", "AuthenticationTokenLoader").instance().reset_cache()


# -- node start-up -------------------------------------------------------------------------------


def write_agent_port_files(session_dir: str, node_id: str, ports: dict) -> None:
    """Write a new raylet's agent port files before its agents do (see ``_minicluster``).

    ``ports`` maps ``dashboard_agent_listen``, ``dashboard_agent_grpc``, ``metrics_export`` and
    ``runtime_env_agent`` to the ports the node was started with.
    """
    import os

    raylet = importlib.import_module("ray._raylet")
    names = {
        raylet.DASHBOARD_AGENT_LISTEN_PORT_NAME: ports["dashboard_agent_listen"],
        raylet.METRICS_AGENT_PORT_NAME: ports["dashboard_agent_grpc"],
        raylet.METRICS_EXPORT_PORT_NAME: ports["metrics_export"],
        raylet.RUNTIME_ENV_AGENT_PORT_NAME: ports["runtime_env_agent"],
    }
    for name, port in names.items():
        if not os.path.exists(os.path.join(session_dir, raylet.get_port_filename(node_id, name))):
            raylet.persist_port(session_dir, node_id, name, port)


# -- loopback-only local clusters ----------------------------------------------------------------

# Ray turns a node IP of 127.0.0.1 into the host's network address (services.
# resolve_ip_for_localhost) unless it believes multi-node clusters are off, as on Windows and macOS
# (ray_constants.ENABLE_RAY_CLUSTER, from RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER). With the node IP kept
# at 127.0.0.1, the GCS, raylet, workers and agents all listen on loopback (measured on 2.60).
CONTRACT += [
    ("ray._private.ray_constants", "ENABLE_RAY_CLUSTER"),
    ("ray._private.services", "resolve_ip_for_localhost"),
    ("ray._private.parameter", "RayParams"),
    ("ray.scripts.scripts", "cli"),
]


# Set in the environment of a session on a loopback cluster, so that Ray's CLI run from the
# notebook (`ray status`, `ray list`, `ray memory`) keeps 127.0.0.1 too.
SINGLE_HOST_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def record_cluster_address(gcs_address: str, temp_dir: str) -> None:
    """Write ``temp_dir/ray_current_cluster`` as ``ray start`` does. Ray's job supervisor finds
    its own cluster through that file (``address="auto"``); without it, it takes the first GCS
    it sees among the host's processes, which may be another cluster's."""
    _get("ray._private.utils", "write_ray_address")(gcs_address, temp_dir)


@contextlib.contextmanager
def single_host(enabled: bool = True):
    """While Ray starts or connects: keep 127.0.0.1 as given instead of the host's address.

    ``enabled=False`` forces the opposite, multi-node mode, even where the environment inherited
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (a kernel that ``raykit run`` started): that is what
    ``raykit.init(expose=True)`` asks for.
    """
    constants = importlib.import_module("ray._private.ray_constants")
    saved = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = not enabled
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = saved


@contextlib.contextmanager
def local_start(*, loopback: bool, dashboard_agent_port: int):
    """While ``ray.init`` starts a local cluster: keep a loopback node IP as given, and give the
    dashboard agent ``dashboard_agent_port`` instead of Ray's fixed 52365 (``ray.init`` has no
    argument for it, and two clusters on one host collide there)."""
    params = _get("ray._private.parameter", "RayParams")
    saved_init = params.__init__

    def init_with_agent_port(self, *args, **kwargs):
        saved_init(self, *args, **kwargs)
        self.dashboard_agent_listen_port = dashboard_agent_port

    params.__init__ = init_with_agent_port
    try:
        with single_host(loopback):
            yield
    finally:
        params.__init__ = saved_init


def ray_start_on_loopback(argv: list[str]) -> int:
    """Run ``ray start`` with ``argv`` keeping ``--node-ip-address=127.0.0.1`` as given.

    For a worker node ``ray start --address`` refuses the single-host switch used by
    :func:`local_start`, so here only the address resolution is left alone for loopback.
    """
    services = importlib.import_module("ray._private.services")
    # The node's processes inherit SINGLE_HOST_ENV=0 (so that jobs and drivers started on the node
    # keep 127.0.0.1); `ray start --address` itself would refuse to add a node under it.
    importlib.import_module("ray._private.ray_constants").ENABLE_RAY_CLUSTER = True
    resolve = services.resolve_ip_for_localhost
    services.resolve_ip_for_localhost = lambda host: host if host == "127.0.0.1" else resolve(host)
    cli = _get("ray.scripts.scripts", "cli")
    try:
        cli.main(args=["start", *argv], prog_name="ray")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
