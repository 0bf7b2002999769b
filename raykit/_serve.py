"""Ray Serve helpers: a loopback port, a replica killed, load with an action, Serve's own state."""

from __future__ import annotations

import ipaddress
import numbers
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import _ports
from .exceptions import ConfigError

# How long a check waits for Serve to reach the state it judges (replicas start, apps deploy).
SERVE_WAIT_S = 90.0
# How long a check waits for an application that a config file sent a moment ago to appear.
CONFIG_APPEAR_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on a loopback address that nothing listens on right now.

    Parameters
    ----------
    host
        A loopback address (``"127.0.0.1"`` or ``"::1"``): the port is for a server that only
        this machine may reach, such as Serve's HTTP proxy.

    Returns
    -------
    int
        The port number.

    Raises
    ------
    ConfigError
        ``host`` is not a loopback address.
    """
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except (TypeError, ValueError):
        loopback = False
    if not loopback:
        raise ConfigError(
            f"host={host!r} is not a loopback address: pass host='127.0.0.1' so that only this "
            "machine can reach the server."
        )
    return _ports.free_port(host)


def _require_name(argument: str, value: Any, example: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{argument}={value!r}: pass a name as a string, e.g. {example}.")
    return value


def kill_replica(app: str, deployment: str) -> str:
    """``ray.kill`` one live replica actor of a Serve deployment, as a crash would end it.

    Replicas are Ray actors in the ``serve`` namespace whose class name the State API lists as
    ``ServeReplica:<app>:<deployment>``; Serve's controller notices the death and starts another.

    Parameters
    ----------
    app
        The application's name (``name=`` of ``serve.run``).
    deployment
        The deployment's name (its class name unless ``name=`` was given).

    Returns
    -------
    str
        The killed replica actor's name.

    Raises
    ------
    ConfigError
        ``app`` or ``deployment`` is not a name, or no replica of it is alive.
    """
    import ray
    from ray.util.state import list_actors

    from ._session import state_api_address

    _require_name("app", app, "app='faulty'")
    _require_name("deployment", deployment, "deployment='DigitModel'")
    live = list_actors(
        address=state_api_address(),
        filters=[("class_name", "=", f"ServeReplica:{app}:{deployment}"), ("state", "=", "ALIVE")],
    )
    if not live:
        raise ConfigError(
            f"app={app!r}, deployment={deployment!r}: no live replica of that deployment; "
            "check both names in serve.status()."
        )
    victim = live[0].name
    ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
    return victim


@dataclass
class LoadRun:
    """What :func:`under_load` saw: the load's report, the samples taken, the action's result."""

    report: Any
    samples: list = field(default_factory=list)
    action_result: Any = None


def under_load(
    url: str,
    *,
    payloads: Iterable[Any],
    seconds: float,
    concurrency: int = 8,
    retries: int = 0,
    action: Callable[[], Any] | None = None,
    after_s: float = 0.0,
    sample: Callable[[], Any] | None = None,
    every_s: float = 1.0,
) -> LoadRun:
    """Send HTTP load for ``seconds``; meanwhile run ``action`` once and ``sample`` repeatedly.

    The load (:func:`raykit.load_test`) and the sampling run in background threads; ``action``
    runs in the calling thread ``after_s`` seconds into the load, so it may be a call that must
    not leave the notebook's thread (``serve.run``).

    Parameters
    ----------
    url
        An ``http://`` URL on this host.
    payloads
        JSON bodies to cycle through.
    seconds
        How long the load lasts.
    concurrency
        How many clients send at once.
    retries
        How many times each client retries a failed request (0: a failure counts at once).
    action
        A function of no arguments run once during the load (kill a replica, redeploy).
    after_s
        When to run ``action``, in seconds after the load started.
    sample
        A function of no arguments called every ``every_s`` seconds while the load runs (the
        number of replicas, the version answering); its results are kept in order, and a call
        that raises is kept as the exception's type name.
    every_s
        The pause between samples, in seconds.

    Returns
    -------
    LoadRun
        ``.report`` (a :class:`raykit.LoadReport`), ``.samples``, ``.action_result``.

    Raises
    ------
    ConfigError
        An argument is out of range or not callable; the message names it.
    """
    from ._loadgen import load_test

    for name, value in (("seconds", seconds), ("every_s", every_s)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
            raise ConfigError(f"{name}={value!r}: pass a positive number of seconds, e.g. 5.")
    if not isinstance(after_s, numbers.Real) or isinstance(after_s, bool) or after_s < 0:
        raise ConfigError(f"after_s={after_s!r}: pass 0 or a positive number of seconds.")
    for name, fn in (("action", action), ("sample", sample)):
        if fn is not None and not callable(fn):
            raise ConfigError(f"{name}={fn!r} is not callable: pass a function of no arguments.")
    outcome: dict = {}

    def send() -> None:
        try:
            outcome["report"] = load_test(
                url,
                payloads=payloads,
                concurrency=concurrency,
                requests=100_000,
                time_limit_s=seconds,
                retries=retries,
                timeout=30,
            )
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    samples: list = []
    done = threading.Event()

    def take_samples() -> None:
        while not done.is_set():
            try:
                samples.append(sample())
            except Exception as exc:  # a failed sample is a finding (a request refused), kept
                samples.append(type(exc).__name__)
            done.wait(every_s)

    loader = threading.Thread(target=send, daemon=True)
    sampler = threading.Thread(target=take_samples, daemon=True) if sample else None
    loader.start()
    if sampler:
        sampler.start()
    result = None
    if action is not None:
        loader.join(after_s)
        result = action()
    loader.join()
    done.set()
    if sampler:
        sampler.join()
    if "error" in outcome:
        raise outcome["error"]
    return LoadRun(outcome["report"], samples, result)


# --- Serve's own state, for the checks ------------------------------------------------------------


def app_overview(app: str):
    """Serve's ``ApplicationStatusOverview`` of ``app`` (``serve.status()``), or None."""
    from ray import serve

    return serve.status().applications.get(app)


def settled_app(app: str, appear_s: float = 0.0, timeout_s: float = SERVE_WAIT_S):
    """Wait until ``app`` is no longer deploying; return its overview (None if it is absent).

    ``appear_s``: how long an absent app is waited for (a config sent to Serve a moment ago).
    """
    from ._wait import wait_until

    start = time.monotonic()

    def settled():
        overview = app_overview(app)
        if overview is None:
            return [None] if time.monotonic() - start >= appear_s else None
        if overview.status.value not in ("DEPLOYING", "NOT_STARTED"):
            return [overview]
        return None

    return wait_until(settled, timeout_s=timeout_s, every_s=0.5, what=f"app {app!r} to deploy")[0]


def running_replicas(app: str, deployment: str) -> int:
    """How many replicas of ``deployment`` in ``app`` Serve reports RUNNING now (0 if none)."""
    overview = app_overview(app)
    if overview is None or deployment not in overview.deployments:
        return 0
    return int(overview.deployments[deployment].replica_states.get("RUNNING", 0))


def post_json(url: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
    """POST ``payload`` as JSON; return (status code, decoded body or its text)."""
    import httpx

    response = httpx.post(url, json=payload, timeout=timeout)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def first_line(text: Any, limit: int = 200) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
