"""``raykit doctor``: one report of this host and environment against what the kit expects."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

from . import _host
from ._html import render
from ._versions import installed_version, requirements

# Libraries the lessons import, in the order the report lists them.
_LIBRARIES = (
    "torch",
    "jupyterlab",
    "ipywidgets",
    "jupyter-server-proxy",
    "pandas",
    "papermill",
    "matplotlib",
)
_REINSTALL = "run `make lab` (or `pip install -e .`) from the kit's root"


@dataclass(frozen=True)
class Finding:
    """One line of the report: what was checked, what was found, and the fix if it is a problem."""

    check: str
    found: str
    expected: str
    status: str  # "ok", "warn" or "fail"
    fix: str = ""


class DoctorReport:
    """The doctor's findings; a table in a notebook, plain text in a terminal."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status != "ok"]

    @property
    def ok(self) -> bool:
        """True when nothing failed (warnings allowed)."""
        return all(f.status != "fail" for f in self.findings)

    def __str__(self) -> str:
        rows = [("check", "found", "expected", "status")]
        rows += [(f.check, f.found, f.expected, f.status.upper()) for f in self.findings]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
        for f in self.problems:
            lines.append(f"- {f.check}: {f.fix}")
        lines.append("All good." if not self.problems else f"{len(self.problems)} problem(s).")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return render("doctor.html", findings=self.findings, problems=self.problems)


def doctor() -> DoctorReport:
    """Check Python, Ray and the libraries, the host's CPUs, GPUs, RAM and /dev/shm, token auth,
    and the Ray clusters already running here; each problem comes with its fix."""
    host = _host.HostFacts.detect()
    findings = [_python()]
    findings += [_library(name) for name in ("ray", *_LIBRARIES)]
    findings.append(_slow_ray_import())
    findings += _host_findings(host)
    findings.append(_auth())
    findings.append(_running_clusters())
    findings.append(_exposed_ports())
    address = os.environ.get("RAY_ADDRESS")
    if address:
        findings.append(
            Finding(
                "RAY_ADDRESS",
                address,
                "",
                "ok",
            )
        )
    return DoctorReport(findings)


def _python() -> Finding:
    found = platform.python_version()
    ok = sys.version_info[:2] == (3, 11)
    return Finding(
        "Python",
        found,
        "3.11",
        "ok" if ok else "fail",
        "" if ok else "install Python 3.11 and rebuild the environment (`make lab`)",
    )


def _library(name: str) -> Finding:
    req = requirements().get(name)
    expected = str(req.specifier) if req else "any"
    found = installed_version(name)
    if found is None:
        return Finding(name, "missing", expected, "fail", f"not installed: {_REINSTALL}")
    if req and not req.specifier.contains(found, prereleases=True):
        return Finding(name, found, expected, "fail", f"wrong version: {_REINSTALL}")
    return Finding(name, found, expected, "ok")


def _slow_ray_import() -> Finding:
    """rfc3987-syntax (Jupyter brings it) compiles 39 grammars whenever jsonschema is imported,
    and Ray imports jsonschema: 1.5 s more for each Ray worker, driver and kernel on a 2-core host
    (scripts/drop-slow-imports.sh, which `make` runs, removes it)."""
    found = installed_version("rfc3987-syntax")
    if found is None:
        return Finding(
            "rfc3987-syntax (slows `import ray`)", "not installed", "not installed", "ok"
        )
    return Finding(
        "rfc3987-syntax (slows `import ray`)",
        found,
        "not installed",
        "warn",
        "every process that imports Ray (each worker too) compiles its grammars at start, about "
        "1.5 s on 2 cores: `pip uninstall rfc3987-syntax` (jsonschema then skips only 'iri')",
    )


def _host_findings(host: _host.HostFacts) -> list[Finding]:
    fmt = _host.fmt_bytes
    cpus = Finding(
        "CPUs",
        str(host.cpus),
        ">= 2",
        "ok" if host.cpus >= 2 else "warn",
        ""
        if host.cpus >= 2
        else "with 1 CPU, tasks cannot run in parallel: the "
        "lessons work, but speed-ups will be about 1x",
    )
    gpus = Finding("GPUs", str(host.gpus), "optional", "ok")
    ram_ok = host.memory_bytes >= 4 * _host.GiB
    ram = Finding(
        "RAM",
        fmt(host.memory_bytes),
        ">= 4 GiB",
        "ok" if ram_ok else "warn",
        "" if ram_ok else "run the lessons in small mode (RAYKIT_SMOKE=1)",
    )
    shm_ok = host.shm_bytes >= _host.SHM_TOO_SMALL
    shm = Finding(
        "/dev/shm",
        fmt(host.shm_bytes),
        ">= 512 MiB",
        "ok" if shm_ok else "warn",
        ""
        if shm_ok
        else "the object store falls back to /tmp (slower); in Docker "
        "start the container with --shm-size=2g",
    )
    return [cpus, gpus, ram, shm]


def _auth() -> Finding:
    mode = os.environ.get("RAY_AUTH_MODE", "").lower() or "token (Ray's default)"
    off = mode == "disabled"
    return Finding(
        "Ray token auth",
        mode,
        "token",
        "warn" if off else "ok",
        "RAY_AUTH_MODE=disabled: anyone who reaches the cluster's ports can run "
        "code; unset it unless Jupyter's own login guards the only way in"
        if off
        else "",
    )


def _running_clusters() -> Finding:
    clusters = running_clusters()
    found = ", ".join(clusters) if clusters else "none"
    if len(clusters) > 1:
        return Finding(
            "Ray clusters on this host",
            found,
            "at most 1",
            "warn",
            "several clusters: ray.init(address='auto') cannot choose; pass an explicit "
            "address (raykit.init starts its own local cluster either way)",
        )
    return Finding("Ray clusters on this host", found, "any", "ok")


def _exposed_ports() -> Finding:
    from ._exposure import exposed, my_ray_processes

    return exposure_finding(exposed(my_ray_processes()))


# Ray 2.60's Serve replicas bind their inter-deployment gRPC server to [::]:0, hard-coded
# (ray/serve/_private/replica.py, _on_initialized), on a cluster that listens on 127.0.0.1 too.
_SERVE_REPLICA = "ray::ServeReplica"


def exposure_finding(open_ports) -> Finding:
    """The doctor's row for the listening sockets of this user's Ray processes that the network
    reaches (``_exposure.Listener``s), with advice that fits whose they are."""
    if not open_ports:
        return Finding("Ray ports open to the network", "none", "none", "ok")
    # What the user can close comes first: a replica's port is Ray's doing (the advice below
    # says so), and another app's replicas started earlier would push the GCS out of view.
    open_ports = sorted(open_ports, key=lambda item: item.process.startswith(_SERVE_REPLICA))
    shown = "; ".join(str(item) for item in open_ports[:6])
    more = f" and {len(open_ports) - 6} more" if len(open_ports) > 6 else ""
    replicas = sum(item.process.startswith(_SERVE_REPLICA) for item in open_ports)
    advice = []
    if replicas < len(open_ports):
        advice.append(
            "these Ray processes of yours listen beyond this host: keep token auth on, start "
            "local clusters with raykit.init() (127.0.0.1 only unless expose=True), and firewall "
            "the ports if the cluster must span hosts"
        )
    if replicas:
        advice.append(
            f"Ray Serve replicas ({replicas} of these): Ray 2.60 binds each replica's "
            "inter-deployment gRPC server on every interface, with no setting to change it, even "
            "on a cluster that listens on 127.0.0.1; token auth guards it (keep it on), a "
            "firewall keeps it off the network, and serve.shutdown() closes it"
        )
    return Finding(
        "Ray ports open to the network",
        f"{len(open_ports)}: {shown}{more}",
        "none",
        "warn",
        "; ".join(advice),
    )


def running_clusters() -> list[str]:
    """Return the GCS address of each Ray cluster running on this host (from its gcs_server)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if not cmdline or not os.path.basename(cmdline[0]).startswith("gcs_server"):
            continue
        args = dict(a.lstrip("-").split("=", 1) for a in cmdline[1:] if "=" in a)
        ip = args.get("node-ip-address") or args.get("node_ip_address") or "127.0.0.1"
        port = args.get("gcs_server_port", "0")
        if port == "0":  # chosen at start-up (ray.init): read it from the listening socket
            port = _listening_port(proc) or "?"
        found.append(f"{ip}:{port} (pid {proc.pid})")
    return found


def _listening_port(proc) -> str | None:
    import psutil

    try:
        ports = [
            c.laddr.port for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN
        ]
    except psutil.Error:
        return None
    return str(min(ports)) if ports else None
