"""``raykit.Prometheus``: a real Prometheus server scraping the Ray cluster, queried with PromQL."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from ._ports import free_port
from ._supervisor import Supervisor
from ._wait import wait_until
from .exceptions import ConfigError, RaykitError, RayNotRunning

# Ray's own prometheus.yml scrapes every 10 s; a lesson's workload lasts seconds, so the kit
# scrapes more often. Everything else in Ray's configuration is kept as Ray wrote it.
DEFAULT_SCRAPE_INTERVAL_S = 2.0
READY_TIMEOUT_S = 30.0
_INSTALL_HINT = (
    "Install the server with `sudo apt-get install prometheus` (Debian/Ubuntu), or download it "
    "from https://prometheus.io/download/ and pass binary='/path/to/prometheus'. Without it, "
    "raykit.scrape_metrics() reads Ray's metrics endpoints directly."
)
# Ray writes these into its session directory (ray/_private/metrics_agent.py, 2.60).
_RAY_CONFIG = Path("metrics") / "prometheus" / "prometheus.yml"
_SERVICE_DISCOVERY = "prom_metrics_service_discovery.json"


def find_prometheus(binary: str | os.PathLike | None = None) -> str:
    """Return the path of the Prometheus server binary, or raise ``ConfigError`` with the fix.

    Parameters
    ----------
    binary : str or os.PathLike, optional
        An explicit path. Defaults to ``RAYKIT_PROMETHEUS``, then ``prometheus`` on ``PATH``.
    """
    candidate = binary or os.environ.get("RAYKIT_PROMETHEUS")
    if candidate:
        path = Path(candidate).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise ConfigError(f"binary={str(candidate)!r} is not an executable file. {_INSTALL_HINT}")
    found = shutil.which("prometheus")
    if not found:
        raise ConfigError(f"no `prometheus` binary on PATH. {_INSTALL_HINT}")
    return found


def _session_dir() -> Path | None:
    """The connected cluster's session directory on this host, or None when it is remote.

    From the context ``raykit.init`` returned (``address_info["session_dir"]``); for a driver
    started with ``ray.init`` directly, the runtime context's temp dir and session name, which
    Ray joins the same way (``ray/_private/node.py``). A remote cluster's session dir is a path
    on its head machine, which does not exist here.
    """
    import ray

    from . import _session

    if not ray.is_initialized():
        raise RayNotRunning("Prometheus (and scrape_metrics without targets)")
    session, context = _session._session, ray.get_runtime_context()
    path = None
    if session is not None and session.address == context.gcs_address:  # not a stale one
        path = session.ray_context.address_info.get("session_dir")
    if not path:
        path = os.path.join(context.get_temp_dir(), context.get_session_name())
    return Path(path) if os.path.isdir(path) else None


def metrics_targets(*, timeout_s: float = 60.0) -> list[str]:
    """``host:port`` of every metrics endpoint of the running cluster, as Ray lists them.

    Ray writes them to ``<session_dir>/prom_metrics_service_discovery.json`` (node metrics
    agents, dashboard, autoscaler), rewriting it every few seconds; a node's agent appears there
    once it has registered, which on a busy host comes seconds after the node itself. So this
    waits up to ``timeout_s`` for every alive node's agent to be listed, then adds any still
    missing from ``ray.nodes()``.
    """
    import ray

    session = _session_dir()
    discovery = session / _SERVICE_DISCOVERY if session else None

    def listed() -> list[str]:
        if not (discovery and discovery.is_file()):
            return []
        try:
            groups = json.loads(discovery.read_text())
        except json.JSONDecodeError:  # caught while Ray rewrites it
            return []
        return [t for group in groups for t in group.get("targets", [])]

    def agents() -> set[str]:
        return {
            f"{n['NodeManagerAddress']}:{n['MetricsExportPort']}"
            for n in ray.nodes()
            if n.get("Alive") and n.get("MetricsExportPort")
        }

    def port(target: str) -> str:
        return target.rsplit(":", 1)[1]

    def all_agents_listed() -> list[str]:
        targets = listed()
        missing = {port(a) for a in agents()} - {port(t) for t in targets}
        return targets if targets and not missing else []

    targets = []
    if discovery and discovery.is_file():
        targets = (
            wait_until(all_agents_listed, timeout_s=timeout_s, every_s=0.5, raise_on_timeout=False)
            or listed()
        )
    ports = {port(t) for t in targets}
    return targets + sorted(a for a in agents() if port(a) not in ports)


def _ray_scrape_config(scrape_interval_s: float, work_dir: Path) -> dict:
    """Ray's own prometheus.yml for this cluster, with a shorter scrape interval."""
    session = _session_dir()
    ray_config = session / _RAY_CONFIG if session else None
    if ray_config and ray_config.is_file():
        config = yaml.safe_load(ray_config.read_text()) or {}
    else:  # a remote cluster: write the service-discovery file Ray would have written
        discovery = work_dir / _SERVICE_DISCOVERY
        discovery.write_text(json.dumps([{"labels": {"job": "ray"}, "targets": metrics_targets()}]))
        config = {
            "scrape_configs": [
                {"job_name": "ray", "file_sd_configs": [{"files": [str(discovery)]}]}
            ]
        }
    interval = f"{scrape_interval_s:g}s"
    config.setdefault("global", {}).update(
        {"scrape_interval": interval, "evaluation_interval": interval}
    )
    for job in config.get("scrape_configs", []):
        job.pop("scrape_interval", None)  # the global one applies
        # Service discovery files are re-read on this period (default 5 m): Ray rewrites its file
        # when nodes join, so new nodes show up within seconds.
        for sd in job.get("file_sd_configs", []):
            sd["refresh_interval"] = interval
    return config


class Prometheus:
    """A Prometheus server on 127.0.0.1 that scrapes the running Ray cluster; stop it when done.

    The port is chosen when the object is made, so ``url`` can be given to Ray's dashboard
    (``RAY_PROMETHEUS_HOST``) before ``raykit.init()`` starts the cluster. ``start()`` (or
    ``with``) needs the cluster running: it copies the scrape configuration Ray wrote for it.

    Parameters
    ----------
    port : int, optional
        Port to listen on; a free one by default.
    binary : str or os.PathLike, optional
        The ``prometheus`` executable; found on ``PATH`` by default.
    scrape_interval_s : float
        Seconds between scrapes.
    data_dir : str or os.PathLike, optional
        Where the server keeps its samples; a new temporary folder, removed on ``stop()``, by
        default.

    Notes
    -----
    The server runs in a session of its own, recorded with its PID and creation time in
    ``<work folder>/processes.jsonl`` (see ``raykit._supervisor``). It is stopped by ``stop()``,
    at the end of ``with``, when Python exits, and, should this process die without any of these
    (a kernel restart, a crash), by a watchdog process, ``python -m raykit._watchdog``, that logs
    what it did to :attr:`watchdog_log` beside the work folder.

    Examples
    --------
    >>> prom = raykit.Prometheus()
    >>> os.environ["RAY_PROMETHEUS_HOST"] = prom.url
    >>> raykit.init()
    >>> with prom:
    ...     prom.query('sum(ray_tasks{State="FINISHED"})')
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        binary: str | os.PathLike | None = None,
        scrape_interval_s: float = DEFAULT_SCRAPE_INTERVAL_S,
        data_dir: str | os.PathLike | None = None,
    ):
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            raise ConfigError(
                f"port={port!r}: give a TCP port number such as 9090, or leave it out."
            )
        if isinstance(scrape_interval_s, bool) or not isinstance(scrape_interval_s, int | float):
            raise ConfigError(f"scrape_interval_s={scrape_interval_s!r}: give seconds, e.g. 2.")
        if scrape_interval_s <= 0:
            raise ConfigError(f"scrape_interval_s={scrape_interval_s!r}: it must be positive.")
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.binary = binary
        self.scrape_interval_s = float(scrape_interval_s)
        self._data_dir = Path(data_dir) if data_dir else None
        self._work_dir: Path | None = None
        self._process: subprocess.Popen | None = None
        self._sup: Supervisor | None = None
        self.config: dict | None = None

    @property
    def installed(self) -> bool:
        """Whether the Prometheus server binary can be found (``start()`` needs it)."""
        try:
            find_prometheus(self.binary)
        except ConfigError:
            return False
        return True

    @property
    def url(self) -> str:
        """The server's base URL, such as ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self.running else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path | None:
        """The server's own log (stdout and stderr)."""
        return self._work_dir / "prometheus.log" if self._work_dir else None

    @property
    def watchdog_log(self) -> Path | None:
        """Where the watchdog logs, if this process dies with the server running:
        ``<work folder>.watchdog.log``, beside the work folder (which is removed)."""
        return self._sup.watchdog_log if self._sup else None

    def start(self) -> Prometheus:
        """Write the scrape configuration, start the server, and wait until it is ready."""
        if self.running:
            return self
        binary = find_prometheus(self.binary)
        _session_dir()  # raises, naming raykit.init(), when Ray is not running
        self._work_dir = Path(tempfile.mkdtemp(prefix="raykit-prometheus-"))
        data_dir = self._data_dir or self._work_dir / "data"
        try:
            self.config = _ray_scrape_config(self.scrape_interval_s, self._work_dir)
        except Exception:
            self._cleanup()
            raise
        config_path = self._work_dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        command = [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={self.host}:{self.port}",
            "--storage.tsdb.retention.time=1d",
        ]
        # A kernel that is restarted or a script that crashes must not leave the server behind:
        # the watchdog is up before the server starts.
        self._sup = Supervisor(self._work_dir)
        try:
            self._sup.spawn_watchdog()
            with open(self.log_path, "wb") as log:
                self._process = self._sup.start(
                    command, what="prometheus", stop="term", stdout=log, stderr=subprocess.STDOUT
                )
        except BaseException:
            self._cleanup()
            raise
        atexit.register(self.stop)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.running:
                log = self.log_path.read_text(errors="replace")[-2000:]
                self._cleanup()
                raise RaykitError(f"Prometheus exited at start-up. Its log ends:\n{log}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RaykitError(
            f"Prometheus did not become ready on {self.url} within {READY_TIMEOUT_S:g} s."
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s; each checked by PID and creation
        time) and remove its temporary folder; safe to call twice."""
        atexit.unregister(self.stop)
        self._cleanup()
        self._process = None

    def _cleanup(self) -> None:
        if self._sup is not None:
            self._sup.close()  # ends the server and the watchdog, removes the work folder
            self._sup = None
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running, pid {self.pid}" if self.running else "stopped"
        return f"Prometheus({self.url}, {state}, scrape every {self.scrape_interval_s:g} s)"

    # --- the HTTP API -------------------------------------------------------------------------

    def _api(self, path: str, params: dict) -> dict:
        if not self.running:
            raise RaykitError("Prometheus is not running: call start() (or use `with`).")
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:  # 400/422: a PromQL error, explained in the body
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise ConfigError(
                f"Prometheus rejected the query {params.get('query')!r}: "
                f"{body.get('errorType', '')} {body.get('error', body)}"
            )
        return body["data"]

    def query(self, promql: str, *, at: float | None = None):
        """Evaluate a PromQL expression at one instant (``/api/v1/query``).

        Parameters
        ----------
        promql : str
            The expression, such as ``'sum(ray_tasks{State="FINISHED"}) by (Name)'``.
        at : float, optional
            Unix time to evaluate at; now by default.

        Returns
        -------
        pandas.DataFrame
            One row per series: its labels as columns, then ``value`` (float). Empty when no
            series matches (yet: the first scrape comes ``scrape_interval_s`` after start).
        """
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return _vector_frame(self._api("query", params))

    def query_range(
        self, promql: str, start: float, end: float | None = None, step: float | None = None
    ):
        """Evaluate a PromQL expression over a time range (``/api/v1/query_range``).

        Parameters
        ----------
        promql : str
            The expression.
        start, end : float
            Unix times; ``end`` defaults to now.
        step : float, optional
            Seconds between points; the scrape interval by default.

        Returns
        -------
        pandas.DataFrame
            Long format: the series' labels, ``time`` (Unix seconds) and ``value``. The last
            point is at ``end`` itself, where the series has one then: it is what
            :meth:`query` at ``end`` gives. The first is at ``start`` or up to a step before.
        """
        end = time.time() if end is None else end
        if end <= start:
            raise ConfigError(f"start={start} must be before end={end}.")
        step = self.scrape_interval_s if step is None else step
        if isinstance(step, bool) or not isinstance(step, int | float) or step < 0.001:
            raise ConfigError(f"step={step!r}: give seconds between points, at least 0.001.")
        # Prometheus evaluates at start, start + step, ... and reaches end only when the window
        # is a whole number of steps. Otherwise the newest sample can fall after the last point:
        # the history would miss a value an instant query already returned. Counted in whole
        # milliseconds, the unit Prometheus works in.
        end_ms, step_ms = round(end * 1000), round(step * 1000)
        steps = -(-(end_ms - round(start * 1000)) // step_ms)  # whole steps, rounded up
        start_ms = end_ms - steps * step_ms
        params = {
            "query": promql,
            "start": f"{start_ms / 1000:.3f}",
            "end": f"{end_ms / 1000:.3f}",
            "step": f"{step_ms / 1000:.3f}",
        }
        return _matrix_frame(self._api("query_range", params))

    def targets(self):
        """The scrape targets and their health, as Prometheus sees them (a DataFrame)."""
        import pandas as pd

        data = self._api("targets", {"state": "active"})
        rows = [
            {
                "target": t.get("labels", {}).get("instance", t.get("scrapeUrl")),
                "health": t.get("health"),
                "last_error": t.get("lastError", ""),
            }
            for t in data.get("activeTargets", [])
        ]
        return pd.DataFrame(rows, columns=["target", "health", "last_error"])

    def wait_for(self, promql: str, *, minimum: float = 0.0, timeout_s: float = 60.0):
        """Poll ``promql`` until its summed value is at least ``minimum``; return the last result.

        Metrics travel worker -> node agent -> scrape, so they lag the workload by a few
        seconds. Returns the last result even when the timeout passed, so the caller can show it.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.query(promql)
            if not frame.empty and frame["value"].sum() >= minimum:
                return frame
            if time.monotonic() > deadline:
                return frame
            time.sleep(min(1.0, self.scrape_interval_s))


def _vector_frame(data: dict):
    import pandas as pd

    rows = []
    if data.get("resultType") == "scalar":
        return pd.DataFrame([{"value": float(data["result"][1])}])
    for item in data.get("result", []):
        rows.append({**item.get("metric", {}), "value": float(item["value"][1])})
    return pd.DataFrame(rows, columns=_columns(rows))


def _matrix_frame(data: dict):
    import pandas as pd

    rows = []
    for item in data.get("result", []):
        labels = item.get("metric", {})
        for stamp, value in item.get("values", []):
            rows.append({**labels, "time": float(stamp), "value": float(value)})
    return pd.DataFrame(rows, columns=_columns(rows, ("time", "value")))


def _columns(rows: list[dict], last: tuple = ("value",)) -> list[str]:
    labels = sorted({k for row in rows for k in row} - set(last))
    return labels + list(last)


def scrape_metrics(targets: list[str] | None = None, *, prefix: str = "ray_"):
    """Read the cluster's metrics endpoints once, with Prometheus' own text parser.

    The fallback when no Prometheus server is installed: one snapshot, no history.

    Parameters
    ----------
    targets : list of str, optional
        ``host:port`` endpoints; all of the running cluster's by default (``metrics_targets``).
    prefix : str
        Keep only metrics whose name starts with this (``""`` keeps all).

    Returns
    -------
    pandas.DataFrame
        One row per sample: ``target``, ``name``, ``labels`` (dict), ``value``.
    """
    import pandas as pd
    from prometheus_client.parser import text_string_to_metric_families

    if targets is not None and (
        isinstance(targets, str)
        or not isinstance(targets, list | tuple)
        or not all(isinstance(t, str) and ":" in t for t in targets)
    ):
        raise ConfigError(
            f"targets={targets!r} must be a list of 'host:port' strings, e.g. "
            "targets=['127.0.0.1:8080'], or None for every endpoint of the running cluster."
        )
    if not isinstance(prefix, str):
        raise ConfigError(f"prefix={prefix!r} must be a string such as 'ray_' ('' keeps all).")
    rows = []
    for target in targets if targets is not None else metrics_targets():
        try:
            with urllib.request.urlopen(f"http://{target}/metrics", timeout=10) as resp:
                text = resp.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError):
            continue  # an endpoint that is starting or gone: the others still count
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(prefix):
                    rows.append(
                        {
                            "target": target,
                            "name": sample.name,
                            "labels": dict(sample.labels),
                            "value": float(sample.value),
                        }
                    )
    return pd.DataFrame(rows, columns=["target", "name", "labels", "value"])
